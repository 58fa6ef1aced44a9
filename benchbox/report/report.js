// benchbox report: sortable tables and the image explorer. No network, no library.
"use strict";

// -- tables: a click on a column's heading sorts the rows above the reference rows ------------
function sortTable(table, column, heading) {
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const value = (row) => {
    const cell = row.cells[column];
    return cell && cell.dataset.v !== undefined ? parseFloat(cell.dataset.v) : null;
  };
  const shown = (row) => (row.cells[column] ? row.cells[column].textContent.trim() : "");
  const numeric = rows.every((row) => value(row) !== null || ["", "–", "-"].includes(shown(row)));
  const descending = heading.getAttribute("aria-sort") === "ascending";
  rows.sort((a, b) => {
    if (numeric) {
      const x = value(a), y = value(b);
      if (x === null || y === null) return (x === null) - (y === null); // missing values last
      return descending ? y - x : x - y;
    }
    const order = shown(a).localeCompare(shown(b), undefined, { numeric: true });
    return descending ? -order : order;
  });
  rows.forEach((row) => body.appendChild(row));
  for (const cell of heading.parentNode.cells) cell.removeAttribute("aria-sort");
  heading.setAttribute("aria-sort", descending ? "descending" : "ascending");
}

for (const table of document.querySelectorAll("table.sortable")) {
  const headings = table.tHead.rows[table.tHead.rows.length - 1].cells;
  Array.from(headings).forEach((heading, column) =>
    heading.addEventListener("click", () => sortTable(table, column, heading)));
}

// -- the image explorer -------------------------------------------------------------------
const PAGE = 48;

function element(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function choice(label, options, selected, onchange) {
  const select = element("select", { onchange: (event) => onchange(event.target.value) });
  for (const [value, text] of options) {
    const option = element("option", { value: String(value) }, text);
    if (String(value) === String(selected)) option.selected = true;
    select.append(option);
  }
  return element("label", {}, label + " ", select);
}

function format(score) {
  return score === null ? "–" : Math.abs(score) >= 1000 || (score !== 0 && Math.abs(score) < 0.001)
    ? score.toExponential(3) : score.toFixed(4);
}

class ImageExplorer {
  constructor(root, data) {
    this.root = root;
    this.data = data;
    const images = data.images;
    this.groups = Array.from(new Set(images.groups)).sort();
    // The run with the best AUROC ranks the images first.
    this.a = data.runs.reduce((best, run, i) => (run.auroc > data.runs[best].auroc ? i : best), 0);
    this.b = -1;
    this.filter = "all";
    this.ascending = false;
    this.page = 0;
    this.opacity = 0.5;
    this.render();
  }

  outcome(run, i) {  // "fp", "fn" or "" at the run's threshold
    const score = run.scores[i];
    if (score === null) return "";
    const flagged = score >= run.threshold;
    if (flagged && this.data.images.labels[i] === 0) return "fp";
    if (!flagged && this.data.images.labels[i] === 1) return "fn";
    return "";
  }

  shown() {  // the images the filter keeps, ranked by run A's score
    const run = this.data.runs[this.a];
    const images = this.data.images;
    const keep = [];
    for (let i = 0; i < images.ids.length; i++) {
      if (run.scores[i] === null) continue;
      const f = this.filter;
      if (f === "fp" || f === "fn" ? this.outcome(run, i) !== f
        : f === "normal" ? images.labels[i] !== 0
        : f === "anomalous" ? images.labels[i] !== 1
        : f.startsWith("group:") ? images.groups[i] !== f.slice(6) : false) continue;
      keep.push(i);
    }
    keep.sort((x, y) => (this.ascending ? run.scores[x] - run.scores[y] : run.scores[y] - run.scores[x]));
    return keep;
  }

  picture(run, i) {
    const images = this.data.images;
    const box = element("div", { class: "picture" });
    if (images.thumbs[i]) box.append(element("img", { src: images.thumbs[i], alt: images.ids[i], class: "image" }));
    else box.append(element("span", { class: "missing" }, "no thumbnail stored"));
    if (run.maps[i]) {
      const map = element("img", { src: run.maps[i], alt: "anomaly map", class: "map" });
      map.style.opacity = this.opacity;
      box.append(map);
    } else if (images.thumbs[i]) box.append(element("span", { class: "nomap" }, "no map stored"));
    if (images.contours[i]) box.append(element("img", { src: images.contours[i], alt: "mask contour", class: "contour" }));
    box.append(element("span", { class: "name" }, run.name));
    return box;
  }

  card(i) {
    const images = this.data.images, runs = this.data.runs;
    const a = runs[this.a], b = this.b >= 0 ? runs[this.b] : null;
    const outcome = this.outcome(a, i);
    const card = element("div", { class: "card " + outcome, "data-index": String(i) });
    const pictures = element("div", { class: "pictures" }, this.picture(a, i));
    if (b) pictures.append(this.picture(b, i));
    card.append(pictures);
    const line = (run) => {
      const o = this.outcome(run, i);
      return element("div", {}, `${run.name}: ${format(run.scores[i])} (rank ${run.ranks[i] ?? "–"})`,
        o ? element("span", { class: "tag " + o }, o === "fp" ? " false positive " : " false negative ") : "");
    };
    card.append(element("div", { class: "id" }, images.ids[i]));
    card.append(element("div", {}, `${images.labels[i] ? "anomalous" : "normal"} · ${images.groups[i]}`));
    card.append(line(a));
    if (b) card.append(line(b));
    const every = element("table", {}, element("tr", {}, element("th", {}, "run"), element("th", {}, "score"),
      element("th", {}, "rank")));
    for (const run of runs) {
      every.append(element("tr", {}, element("td", {}, run.name), element("td", {}, format(run.scores[i])),
        element("td", {}, String(run.ranks[i] ?? "–"))));
    }
    card.append(element("details", {}, element("summary", {}, "score and rank of every run"), every));
    return card;
  }

  render() {
    const runs = this.data.runs;
    const options = runs.map((run, i) => [i, `${run.name} (AUROC ${run.auroc.toFixed(3)})`]);
    const outcomes = this.data.images.ids.map((_, i) => this.outcome(runs[this.a], i));
    const count = (kind) => outcomes.filter((o) => o === kind).length;
    const filters = [["all", "all images"], ["fp", `false positives of A (${count("fp")})`],
      ["fn", `false negatives of A (${count("fn")})`],
      ["normal", "normal"], ["anomalous", "anomalous"], ...this.groups.map((g) => ["group:" + g, "group " + g])];
    const kept = this.shown();
    const pages = Math.max(1, Math.ceil(kept.length / PAGE));
    this.page = Math.min(this.page, pages - 1);
    const set = (key) => (value) => { this[key] = value; this.page = 0; this.render(); };
    const controls = element("div", { class: "controls" },
      choice("A (ranks the images):", options, this.a, (v) => set("a")(Number(v))),
      choice("B beside it:", [[-1, "none"], ...options], this.b, (v) => set("b")(Number(v))),
      choice("show", filters, this.filter, set("filter")),
      choice("order", [["desc", "highest score first"], ["asc", "lowest score first"]],
        this.ascending ? "asc" : "desc", (v) => set("ascending")(v === "asc")),
      element("label", {}, "map opacity ", element("input", {
        type: "range", min: "0", max: "1", step: "0.1", value: String(this.opacity),
        oninput: (event) => {
          this.opacity = Number(event.target.value);
          for (const map of this.root.querySelectorAll("img.map")) map.style.opacity = this.opacity;
        },
      })),
      element("span", { class: "count", "data-count": String(kept.length) }, `${kept.length} images`));
    const run = runs[this.a];
    const note = element("p", {}, `Threshold of each run: its best-F1 threshold on the test scores (the report's ` +
      `F1/ACC/SEN/SPE; chosen with the test labels). A's is ${format(run.threshold)}: a normal image at or above ` +
      "it is a false positive, an anomalous one below it a false negative. Maps: each run on its own scale " +
      "(its 0.5th to 99.5th percentile over the test set, black to yellow, as the report's map figures); " +
      "mask contour in cyan.");
    const navigation = element("div", { class: "pages" },
      element("button", { onclick: () => { this.page--; this.render(); }, ...(this.page ? {} : { disabled: "" }) }, "◀"),
      `page ${this.page + 1} of ${pages}`,
      element("button", { onclick: () => { this.page++; this.render(); },
        ...(this.page < pages - 1 ? {} : { disabled: "" }) }, "▶"));
    const grid = element("div", { class: "grid" });
    for (const i of kept.slice(this.page * PAGE, (this.page + 1) * PAGE)) grid.append(this.card(i));
    this.root.replaceChildren(controls, note, navigation, grid);
  }
}

for (const root of document.querySelectorAll(".explorer")) {
  const data = (window.BENCHBOX_EXPLORERS || {})[root.dataset.source];
  const images = data && (window.BENCHBOX_IMAGES || {})[data.images];
  if (images) new ImageExplorer(root, { ...data, images });
  else root.textContent = `The explorer's data (${root.dataset.source}.js and its images) is missing beside this page.`;
}
