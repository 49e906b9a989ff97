"""The 44-item security checklist (shared/reference/security-and-performance.md §1), one or a
few black-box tests per item, named ``test_item_NN_<what>``.

Project decisions that override an item (shared/reference/README.md) are followed: item 17
(query parameters at the token endpoint accepted unless ``strict_mode``), item 34
(``frame-ancestors 'self'`` and ``SAMEORIGIN``), item 44 (secret and test token viewable again
after a password confirmation, sealed at rest), and decision 7 for item 3 (the token request may
omit ``redirect_uri`` unless strict).
"""
