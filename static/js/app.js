// warrantdesk's own script (a file: the Content-Security-Policy allows no inline script without a nonce).
// Dismissible alerts (progressive enhancement: without JavaScript the messages simply stay).
document.querySelectorAll("[data-dismiss]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () {
    var alert = button.closest(".alert");
    var list = alert.parentElement;
    alert.remove();
    if (!list.querySelector(".alert")) { list.remove(); }
    document.getElementById("main").focus();
  });
});
