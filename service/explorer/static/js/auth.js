// Asking for an API key or token when the service answers 401. The secret lives in this
// module's memory only: never in Web Storage, cookies or the URL, gone when the tab closes.

let token = null;
let pending = null;

export function bearerToken() {
  return token;
}

export function forgetToken() {
  token = null;
}

// One prompt at a time: concurrent requests that hit 401 wait for the same answer.
export function askForToken(reason) {
  if (!pending) {
    pending = prompt(reason).finally(() => {
      pending = null;
    });
  }
  return pending;
}

function prompt(reason) {
  const dialog = document.getElementById("auth-dialog");
  const form = document.getElementById("auth-form");
  const input = document.getElementById("auth-token");
  const message = document.getElementById("auth-reason");
  const cancel = document.getElementById("auth-cancel");
  message.textContent = reason || "This service needs an API key or access token.";
  input.value = "";
  return new Promise((resolve) => {
    const finish = (value) => {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      input.value = "";
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const onSubmit = (event) => {
      event.preventDefault();
      const value = input.value.trim();
      token = value || null;
      finish(token);
    };
    const onCancel = (event) => {
      event.preventDefault();
      finish(null);
    };
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel);
    dialog.showModal();
    input.focus();
  });
}
