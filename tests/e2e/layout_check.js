// Layout check evaluated in the page by tests/e2e/conftest.py (RGAA 10.4 and 10.11): at the
// current viewport, finds interactive controls that are
// - cut: partly outside the window horizontally, clipped by an ancestor that hides its overflow,
//   or whose own text overflows (ellipsis, hidden overflow: "Env…" for "Envoyer");
// - overlapped: covered by another element (elementFromPoint at the centre and near the corners)
//   at every scroll position where they could be read (centred, at the top, at the bottom);
// and a page that scrolls horizontally. Returns a list of problems (strings), empty when fine.
// Scroll positions are restored afterwards.
() => {
  const problems = [];
  const SELECTOR = [
    "a[href]", "button", "input:not([type=hidden])", "select", "textarea", "summary",
    "[role=button]", "[role=link]", "[tabindex]:not([tabindex='-1'])",
  ].join(",");
  const TOLERANCE = 1;
  const viewportWidth = document.documentElement.clientWidth;
  const viewportHeight = window.innerHeight;

  function describe(el) {
    let text = (el.getAttribute("aria-label") || el.innerText || el.value || el.getAttribute("title") || "").trim();
    text = text.replace(/\s+/g, " ").slice(0, 40);
    const id = el.id ? "#" + el.id : "";
    const cls = typeof el.className === "string" && el.className.trim()
      ? "." + el.className.trim().split(/\s+/).slice(0, 2).join(".") : "";
    return `<${el.tagName.toLowerCase()}${id}${cls}> "${text}"`;
  }

  function visible(el) {
    if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) { return false; }
    const rect = el.getBoundingClientRect();
    if (rect.width < 2 || rect.height < 2) { return false; }  // fr-sr-only and friends
    // Skip links are off screen until focused, by design; a closed DSFR collapse (the
    // breadcrumb and the side menu on small screens) shows its content when its button is used.
    if (el.closest(".fr-skiplinks")) { return false; }
    if (el.closest(".fr-collapse:not(.fr-collapse--expanded)")) { return false; }
    // Native controls hidden by a DSFR component that shows its own (checkbox, radio, toggle).
    const style = getComputedStyle(el);
    if (el.tagName === "INPUT" && ["checkbox", "radio"].includes(el.type) && style.opacity === "0") {
      return false;
    }
    return true;
  }

  // Save every scroll position we may change.
  const scrolled = [];
  for (const el of [document.scrollingElement, ...document.querySelectorAll("*")]) {
    if (el && (el.scrollHeight > el.clientHeight || el.scrollWidth > el.clientWidth)) {
      scrolled.push([el, el.scrollTop, el.scrollLeft]);
    }
  }
  const pageX = window.scrollX;
  const pageY = window.scrollY;

  const doc = document.documentElement;
  if (doc.scrollWidth > viewportWidth + TOLERANCE) {
    // The outermost elements that stick out: their parent fits in the window.
    const sticksOut = (el) => el.getBoundingClientRect().right + window.scrollX > viewportWidth + TOLERANCE;
    const wide = [...document.body.querySelectorAll("*")]
      .filter((el) => sticksOut(el) && el.parentElement && !sticksOut(el.parentElement))
      .slice(0, 3)
      .map(describe);
    problems.push(`page scrolls horizontally (${doc.scrollWidth} px for ${viewportWidth} px): ${wide.join(", ")}`);
  }

  function clippedBy(el, rect) {
    for (let parent = el.parentElement; parent && parent !== document.body; parent = parent.parentElement) {
      const style = getComputedStyle(parent);
      // Inside a scroll container the control is reached by scrolling it: stop there.
      if (["auto", "scroll"].includes(style.overflowX) || ["auto", "scroll"].includes(style.overflowY)) {
        return null;
      }
      const hidesX = ["hidden", "clip"].includes(style.overflowX);
      const hidesY = ["hidden", "clip"].includes(style.overflowY);
      if (!hidesX && !hidesY) { continue; }
      const box = parent.getBoundingClientRect();
      if (hidesX && (rect.left < box.left - TOLERANCE || rect.right > box.right + TOLERANCE)) { return parent; }
      if (hidesY && (rect.top < box.top - TOLERANCE || rect.bottom > box.bottom + TOLERANCE)) { return parent; }
    }
    return null;
  }

  // DSFR icon-only buttons (an icon class without --icon-left/right, the menu button) hide their
  // text on purpose: it is their accessible name, the icon is what shows.
  function iconOnly(el) {
    const cls = typeof el.className === "string" ? el.className : "";
    if (/\bfr-btn--(menu|search)\b/.test(cls)) { return true; }
    if (el.closest(".fr-search-bar") && /\bfr-btn\b/.test(cls)) { return true; }  // DSFR: icon below md
    if (/\bfr-pagination__link--(first|prev|next|last)\b/.test(cls)) { return true; }  // idem
    return /\bfr-(icon|fi)-/.test(cls) && !/\bfr-(btn|link|tag)--icon-(left|right)\b/.test(cls);
  }

  function textCut(el) {
    if (["INPUT", "SELECT", "TEXTAREA"].includes(el.tagName)) { return false; }
    if (iconOnly(el)) { return false; }
    const style = getComputedStyle(el);
    const hides = style.textOverflow === "ellipsis" || ["hidden", "clip"].includes(style.overflowX);
    return hides && el.scrollWidth > el.clientWidth + TOLERANCE;
  }

  function coveredBy(el) {
    // One box per line for a link that wraps: its bounding box would take in the text after it.
    const points = [];
    for (const rect of el.getClientRects()) {
      if (rect.width < 2 || rect.height < 2) { continue; }
      const inset = Math.min(4, rect.width / 4, rect.height / 4);
      points.push(
        [rect.left + rect.width / 2, rect.top + rect.height / 2],
        [rect.left + inset, rect.top + inset],
        [rect.right - inset, rect.top + inset],
        [rect.left + inset, rect.bottom - inset],
        [rect.right - inset, rect.bottom - inset],
      );
    }
    for (const [x, y] of points) {
      if (x < 0 || y < 0 || x >= viewportWidth || y >= viewportHeight) { return "outside"; }
      const top = document.elementFromPoint(x, y);
      if (!top || top === el || el.contains(top)) { continue; }
      // A label of the control, or a decoration inside the same control, does not hide it.
      if (top.closest("label") && top.closest("label").control === el) { continue; }
      if (el.labels && [...el.labels].some((label) => label.contains(top))) { continue; }
      // A DSFR checkbox/radio/toggle/upload draws its control over (or next to) the native one.
      if (top.contains(el)) { continue; }
      return top;
    }
    return null;
  }

  // An open modal dialog covers the page on purpose: only its own controls are checked then.
  const modal = [...document.querySelectorAll("dialog[open], .fr-modal--opened")].find(visible);
  for (const el of (modal || document).querySelectorAll(SELECTOR)) {
    if (!visible(el)) { continue; }
    if (el.closest("dialog:not([open])")) { continue; }
    let rect = el.getBoundingClientRect();
    const absLeft = rect.left + window.scrollX;
    const absRight = rect.right + window.scrollX;
    if (absLeft < -TOLERANCE || absRight > viewportWidth + window.scrollX + TOLERANCE) {
      // Reachable only if an ancestor scrolls horizontally (a data table, say).
      let scroller = null;
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        const ox = getComputedStyle(p).overflowX;
        if ((ox === "auto" || ox === "scroll") && p.scrollWidth > p.clientWidth) { scroller = p; break; }
      }
      if (!scroller) { problems.push(`cut (outside the window horizontally): ${describe(el)}`); continue; }
    }
    const clip = clippedBy(el, rect);
    if (clip) {
      problems.push(`cut (clipped by ${describe(clip)}): ${describe(el)}`);
      continue;
    }
    if (textCut(el)) {
      problems.push(`cut (text overflows: ${el.scrollWidth} px in ${el.clientWidth} px): ${describe(el)}`);
      continue;
    }
    let cover = null;
    for (const block of ["center", "start", "end"]) {
      el.scrollIntoView({ block: block, inline: "nearest", behavior: "instant" });
      cover = coveredBy(el);
      if (!cover) { break; }
    }
    if (cover && cover !== "outside") {
      problems.push(`overlapped by ${describe(cover)}: ${describe(el)}`);
    }
  }

  for (const [el, top, left] of scrolled) { el.scrollTop = top; el.scrollLeft = left; }
  window.scrollTo({ left: pageX, top: pageY, behavior: "instant" });
  return problems;
}
