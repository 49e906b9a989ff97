// Passkeys (WebAuthn) on Frontdesk's pages: web/routes/pages/passkeys.py.
//
// A form marked data-passkey="register" | "factor" | "login" runs one ceremony when sent:
// 1. POST its anti-forgery token to data-options-url; the answer is the options as JSON, the
//    binary fields base64url (the challenge stays on the server, bound to this browser);
// 2. navigator.credentials.create() or .get() with them;
// 3. the credential, as JSON with base64url fields, goes into the form's "credential" field and
//    the form is sent as usual (the server answers with its redirect or page).
// Elements marked data-passkey-only are shown when the browser can use passkeys.
(function () {
  "use strict";

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) return null;
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      return { type: d.type, id: toBytes(d.id), transports: d.transports };
    });
  }

  function creationOptions(json) {
    json.challenge = toBytes(json.challenge);
    json.user.id = toBytes(json.user.id);
    json.excludeCredentials = descriptors(json.excludeCredentials);
    return json;
  }

  function requestOptions(json) {
    json.challenge = toBytes(json.challenge);
    json.allowCredentials = descriptors(json.allowCredentials);
    return json;
  }

  function credentialJSON(credential) {
    var r = credential.response;
    var response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      response.userHandle = toText(r.userHandle);
    }
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: response,
    };
  }

  function say(form, message) {
    var status = form.querySelector("[data-passkey-status]");
    if (status) {
      status.textContent = message;
      status.hidden = false;
    }
  }

  // The page's messages, in its language: data-* of the status element (the passkey_status
  // macro in web/templates/_forms.html).
  function text(form, name) {
    var status = form.querySelector("[data-passkey-status]");
    return (status && status.getAttribute("data-" + name)) || name;
  }

  // A refusal the server words itself (JSON with an error_description: too many checks).
  function Refused(message) {
    this.message = message;
  }

  function explain(form, error) {
    if (error instanceof Refused) return error.message;
    if (error && error.name === "NotAllowedError") return text(form, "cancelled");
    if (error && error.name === "InvalidStateError") return text(form, "registered");
    if (error && error.name === "SecurityError") return text(form, "address");
    return text(form, "failed");
  }

  async function run(form) {
    var kind = form.getAttribute("data-passkey");
    var body = new URLSearchParams();
    body.set("csrf_token", form.elements.csrf_token.value);
    body.set("purpose", kind);
    var answer = await fetch(form.getAttribute("data-options-url"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!answer.ok) {
      var refusal = await answer.json().catch(function () {
        return {};
      });
      throw new Refused(refusal.error_description || text(form, "start"));
    }
    var options = await answer.json();
    var credential =
      kind === "register"
        ? await navigator.credentials.create({ publicKey: creationOptions(options) })
        : await navigator.credentials.get({ publicKey: requestOptions(options) });
    if (!credential) throw new Refused(text(form, "cancelled"));
    form.elements.credential.value = JSON.stringify(credentialJSON(credential));
    form.submit();
  }

  var supported = typeof window.PublicKeyCredential === "function" && !!navigator.credentials;

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || !form.hasAttribute || !form.hasAttribute("data-passkey")) return;
    event.preventDefault();
    if (!supported) {
      say(form, text(form, "unsupported"));
      return;
    }
    var button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    run(form).catch(function (error) {
      if (button) button.disabled = false;
      say(form, explain(form, error));
    });
  });

  function reveal() {
    if (!supported) return;
    var parts = document.querySelectorAll("[data-passkey-only]");
    for (var i = 0; i < parts.length; i++) parts[i].hidden = false;
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", reveal);
  else reveal();
})();
