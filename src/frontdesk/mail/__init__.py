"""Email: the messages Frontdesk sends (:mod:`frontdesk.mail.messages`: their words in one
place and their HTML and plain-text templates in ``templates/``) and how they leave
(:mod:`frontdesk.mail.transport`: SMTP, or the development folder). Messages are queued in the
email outbox (``store/email_outbox.py``) and sent by :mod:`frontdesk.email_worker`."""
