// A file box shows the chosen file's name in our words (the browser's own says
// "No file chosen" in the PC's language and is hidden under our button).
document.querySelectorAll("[data-file-name-for]").forEach(function (label) {
  var input = document.getElementById(label.getAttribute("data-file-name-for"));
  if (!input) return;
  input.addEventListener("change", function () {
    label.textContent = input.files && input.files.length ? input.files[0].name : label.getAttribute("data-none");
  });
});
