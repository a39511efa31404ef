// Segment builder: condition rows <-> the hidden JSON rule; tells HTMX to recount.
(function () {
  "use strict";
  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  function init() {
    var form = document.getElementById("segment-form");
    if (!form) return;
    var rule = data("segment-rule") || { match: "all", conditions: [] };
    var choices = data("segment-choices") || {};
    var specs = {};
    (data("segment-conditions") || []).forEach(function (c) { specs[c.field] = c; });
    var texts = data("segment-texts") || {};
    var list = document.getElementById("segment-conditions-list");
    var match = document.getElementById("segment-match");
    var hidden = document.getElementById("id_rule");
    match.value = rule.match === "any" ? "any" : "all";

    function el(tag, attrs, text) {
      var e = document.createElement(tag);
      Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
      if (text) e.textContent = text;
      return e;
    }
    function select(name, options, selected, multiple) {
      var s = el("select", { "class": "form-select form-select-sm", "data-part": name });
      if (multiple) { s.multiple = true; s.size = Math.min(6, Math.max(2, options.length)); }
      options.forEach(function (o) {
        var opt = el("option", { value: o[0] }, o[1]);
        if (selected.indexOf(String(o[0])) >= 0) opt.selected = true;
        s.appendChild(opt);
      });
      return s;
    }
    function input(name, value, placeholder, type) {
      var i = el("input", { "class": "form-control form-control-sm", "data-part": name,
        type: type || "number", step: "any", placeholder: placeholder || "", "aria-label": placeholder || name });
      if (value !== undefined && value !== null) i.value = value;
      return i;
    }
    function addRow(cond) {
      var spec = specs[cond.field];
      if (!spec) return;
      var row = el("div", { "class": "d-flex flex-wrap align-items-center gap-2 border rounded p-2",
        "data-field": cond.field, "data-testid": "segment-condition" });
      var neg = el("input", { type: "checkbox", "class": "form-check-input", "data-part": "negate",
        "aria-label": texts.not });
      neg.checked = !!cond.negate;
      var negLabel = el("label", { "class": "small" }, texts.not);
      negLabel.prepend(neg);
      row.appendChild(negLabel);
      row.appendChild(el("strong", {}, spec.label));
      var f = cond.field;
      var values = (cond.values || []).map(String);
      if (f === "district") {
        row.appendChild(input("values", values.join(", "), "Kadıköy, Çankaya", "text"));
      } else if (f === "feature") {
        row.appendChild(select("name", choices.feature || [], [cond.name || ""], false));
      } else if (f === "purchased_category") {
        row.appendChild(select("category", choices.purchased_category || [], [String(cond.category || "")], false));
      } else if (f === "segment") {
        row.appendChild(select("segment", choices.segment || [], [String(cond.segment || "")], false));
      } else if (f === "interaction") {
        row.appendChild(select("touchpoints", choices.interaction || [], (cond.touchpoints || []).map(String), true));
      } else if (spec.input === "choices") {
        row.appendChild(select("values", choices[f] || [], values, true));
      }
      if (spec.input === "range") {
        row.appendChild(input("min", cond.min, texts.min));
        row.appendChild(input("max", cond.max, texts.max));
      }
      if (spec.input === "period") row.appendChild(input("days", cond.days, texts.days));
      var remove = el("button", { type: "button", "class": "btn btn-sm btn-link text-danger ms-auto",
        "data-testid": "segment-remove" }, texts.remove);
      remove.addEventListener("click", function () { row.remove(); sync(); });
      row.appendChild(remove);
      list.appendChild(row);
    }
    function readRow(row) {
      var cond = { field: row.getAttribute("data-field") };
      row.querySelectorAll("[data-part]").forEach(function (p) {
        var part = p.getAttribute("data-part");
        if (part === "negate") { cond.negate = p.checked; return; }
        if (p.multiple) {
          cond[part] = Array.prototype.filter.call(p.options, function (o) { return o.selected; })
            .map(function (o) { return o.value; });
        } else if (part === "values") {
          cond.values = p.value.split(",").map(function (v) { return v.trim(); }).filter(Boolean);
        } else if (p.value !== "") {
          cond[part] = p.value;
        }
      });
      return cond;
    }
    function sync() {
      // Nested groups (made through the API) are kept as they are.
      var conds = Array.prototype.map.call(list.children, readRow).concat(nested);
      hidden.value = JSON.stringify({ match: match.value, negate: !!rule.negate, conditions: conds });
      document.body.dispatchEvent(new CustomEvent("rule-changed"));
    }
    var nested = (rule.conditions || []).filter(function (c) { return !c.field; });
    (rule.conditions || []).forEach(function (c) { if (c.field) addRow(c); });
    document.getElementById("segment-add").addEventListener("click", function () {
      addRow({ field: document.getElementById("segment-add-field").value });
      sync();
    });
    list.addEventListener("change", sync);
    list.addEventListener("input", sync);
    match.addEventListener("change", sync);
    sync();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
