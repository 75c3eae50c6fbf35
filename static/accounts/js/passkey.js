/* Passkeys (WebAuthn): the browser side of the two ceremonies of accounts/passkey_views.py.
 *
 * A form marked data-passkey="register" or "login" asks its data-options-url for options (JSON,
 * binary values in base64url), calls navigator.credentials.create or .get, and sends the result
 * to its data-verify-url; the answer names the page to open next, or gives the error to show.
 * The forms stay hidden where the browser has no WebAuthn (the text marked
 * data-passkey-unsupported is shown instead). */
(function () {
  "use strict";

  function toBytes(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return Object.assign({}, item, { id: toBytes(item.id) });
    });
  }

  function creationOptions(options) {
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    options.excludeCredentials = descriptors(options.excludeCredentials);
    return options;
  }

  function requestOptions(options) {
    options.challenge = toBytes(options.challenge);
    options.allowCredentials = descriptors(options.allowCredentials);
    return options;
  }

  function credentialJson(credential) {
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toBase64url(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      out.response.attestationObject = toBase64url(response.attestationObject);
      out.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      out.response.authenticatorData = toBase64url(response.authenticatorData);
      out.response.signature = toBase64url(response.signature);
      if (response.userHandle) out.response.userHandle = toBase64url(response.userHandle);
    }
    return out;
  }

  function post(form, url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value,
      },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().then(
        function (data) {
          return { ok: response.ok, data: data };
        },
        function () {
          return { ok: false, data: {} };
        },
      );
    });
  }

  function showError(form, message) {
    var box = form.querySelector("[data-passkey-error]");
    box.textContent = message;
    box.hidden = false;
  }

  function ceremony(form) {
    var kind = form.getAttribute("data-passkey");
    var button = form.querySelector("button[type=submit]");
    var cancelled = form.getAttribute("data-cancelled");
    form.querySelector("[data-passkey-error]").hidden = true;
    button.disabled = true;
    return post(form, form.getAttribute("data-options-url"))
      .then(function (answer) {
        if (!answer.ok) throw new Error(answer.data.detail || cancelled);
        if (kind === "register") {
          return navigator.credentials.create({ publicKey: creationOptions(answer.data) });
        }
        return navigator.credentials.get({ publicKey: requestOptions(answer.data) });
      })
      .then(function (credential) {
        var body = { credential: credentialJson(credential) };
        if (kind === "register") {
          body.name = form.querySelector("[name=name]").value;
        } else {
          var remember = document.getElementById(form.getAttribute("data-remember-field"));
          body.remember = Boolean(remember && remember.checked);
        }
        return post(form, form.getAttribute("data-verify-url"), body);
      })
      .then(function (answer) {
        if (answer.data.redirect && (answer.ok || answer.data.detail === undefined)) {
          window.location.assign(answer.data.redirect);
          return;
        }
        if (answer.data.redirect) {
          showError(form, answer.data.detail);
          window.setTimeout(function () {
            window.location.assign(answer.data.redirect);
          }, 4000);
          return;
        }
        throw new Error(answer.data.detail || cancelled);
      })
      .catch(function (error) {
        // DOMException (cancelled, timed out, no matching key): the page's own message.
        showError(form, error instanceof DOMException ? cancelled : error.message || cancelled);
      })
      .then(function () {
        button.disabled = false;
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var supported = Boolean(window.PublicKeyCredential && navigator.credentials);
    document.querySelectorAll("[data-passkey-unsupported]").forEach(function (text) {
      text.hidden = supported;
    });
    document.querySelectorAll("form[data-passkey]").forEach(function (form) {
      if (!supported) return;
      form.hidden = false;
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        ceremony(form);
      });
    });
  });
})();
