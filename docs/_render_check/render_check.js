// Included only in the build that `make docs-check` renders (see conf.py):
// after the page has loaded, record what a reader would see wrong in
// <body data-render-check="...">, for docs/check_render.py to read.
window.addEventListener("load", function () {
  var column = document.querySelector("article") || document.querySelector("main");
  var result = {column: Boolean(column), text: 0, images: 0, broken: [], overflow: []};
  if (column) {
    result.text = column.innerText.trim().length;
    var right = column.getBoundingClientRect().right;
    column.querySelectorAll("img").forEach(function (img) {
      result.images += 1;
      if (!img.complete || img.naturalWidth === 0) {
        result.broken.push(img.getAttribute("src"));
      }
    });
    var scrolls = function (el) {
      var style = getComputedStyle(el).overflowX;
      return style === "auto" || style === "scroll" || style === "hidden";
    };
    column.querySelectorAll("*").forEach(function (el) {
      // The box reaches past the column, or its content past the box.
      var spills = el.getBoundingClientRect().right > right + 1 ||
        (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1 && !scrolls(el));
      if (!spills) {
        return;
      }
      for (var up = el.parentElement; up && up !== column; up = up.parentElement) {
        if (scrolls(up)) {
          return;  // inside a box that scrolls or clips: nothing spills
        }
      }
      result.overflow.push(el.tagName.toLowerCase() + ": " +
        (el.innerText || el.getAttribute("src") || "").slice(0, 60));
    });
    // A table wider than the box that scrolls it is clipped for the reader
    // (code may scroll; a table of figures should fit).
    column.querySelectorAll("table").forEach(function (table) {
      for (var up = table.parentElement; up && up !== column; up = up.parentElement) {
        if (scrolls(up)) {
          if (up.scrollWidth > up.clientWidth + 1) {
            result.overflow.push("table (clipped): " +
              (table.innerText || "").slice(0, 60));
          }
          return;
        }
      }
    });
  }
  document.body.setAttribute("data-render-check", JSON.stringify(result));
});
