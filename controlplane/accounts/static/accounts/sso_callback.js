// Single sign-on, back from the provider: it put the code and state in the URL's fragment,
// which a browser never sends to a server (so no access log or proxy sees the code). Drop the
// fragment from the address bar and history, copy it into the form, and post it (same-site,
// with the CSRF token), where the control plane checks the state and exchanges the code.
(function () {
  "use strict";
  var form = document.getElementById("sso-callback");
  if (!form) {
    return;
  }
  var params = new URLSearchParams(window.location.hash.slice(1));
  history.replaceState(null, "", window.location.pathname);
  var found = false;
  ["code", "state", "iss", "error"].forEach(function (name) {
    var value = params.get(name);
    if (value !== null) {
      form.elements[name].value = value;
      found = true;
    }
  });
  if (found) {
    form.submit();
  } else {
    document.getElementById("sso-callback-empty").hidden = false;
  }
})();
