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
    var fieldOrder = (data("segment-conditions") || []).map(function (c) { return [c.field, c.label]; });
    var MAX_GROUP_DEPTH = 3;

    function addRow(cond, target) {
      var spec = specs[cond.field];
      if (!spec) return;
      var row = el("div", { "class": "d-flex flex-wrap align-items-center gap-2 border rounded p-2 bg-body",
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
      target.appendChild(row);
    }
    // A group inside the rule: its own all/any, "not", conditions and further groups.
    function addGroup(group, target, depth) {
      var box = el("div", { "class": "border border-primary-subtle rounded p-2 bg-body-tertiary vstack gap-2",
        "data-group": "1", "data-testid": "segment-group" });
      var head = el("div", { "class": "d-flex flex-wrap align-items-center gap-2 group-head" });
      var neg = el("input", { type: "checkbox", "class": "form-check-input group-negate", "aria-label": texts.not });
      neg.checked = !!group.negate;
      var negLabel = el("label", { "class": "small" }, texts.not);
      negLabel.prepend(neg);
      head.appendChild(negLabel);
      var m = select("group-match", [["all", texts.all], ["any", texts.any]], [group.match === "any" ? "any" : "all"], false);
      m.classList.add("w-auto", "group-match");
      m.removeAttribute("data-part");
      m.setAttribute("aria-label", texts.group);
      m.setAttribute("data-testid", "segment-group-match");
      head.appendChild(el("span", { "class": "small fw-semibold" }, texts.group));
      head.appendChild(m);
      var removeGroup = el("button", { type: "button", "class": "btn btn-sm btn-link text-danger ms-auto",
        "data-testid": "segment-remove-group" }, texts.remove_group);
      removeGroup.addEventListener("click", function () { box.remove(); sync(); });
      head.appendChild(removeGroup);
      box.appendChild(head);
      var inner = el("div", { "class": "vstack gap-2 group-list ms-2" });
      box.appendChild(inner);
      fill(inner, group.conditions || [], depth);
      box.appendChild(addControls(inner, depth));
      target.appendChild(box);
      return box;
    }
    function addControls(target, depth) {
      var bar = el("div", { "class": "d-flex flex-wrap gap-2 group-add" });
      var field = select("add-field", fieldOrder, [], false);
      field.classList.add("w-auto");
      field.removeAttribute("data-part");
      field.setAttribute("aria-label", texts.condition);
      field.setAttribute("data-testid", "segment-group-add-field");
      var add = el("button", { type: "button", "class": "btn btn-sm btn-outline-primary",
        "data-testid": "segment-group-add" }, "+ " + texts.add_condition);
      add.addEventListener("click", function () { addRow({ field: field.value }, target); sync(); });
      bar.appendChild(field);
      bar.appendChild(add);
      if (depth < MAX_GROUP_DEPTH) {
        var sub = el("button", { type: "button", "class": "btn btn-sm btn-outline-secondary",
          "data-testid": "segment-add-subgroup" }, "+ " + texts.add_group);
        sub.addEventListener("click", function () {
          addGroup({ match: "any", conditions: [] }, target, depth + 1); sync();
        });
        bar.appendChild(sub);
      }
      return bar;
    }
    function fill(target, conditions, depth) {
      conditions.forEach(function (c) {
        if (c.field) addRow(c, target);
        else if (c.conditions) addGroup(c, target, depth + 1);
      });
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
    function readList(target) {
      return Array.prototype.map.call(target.children, function (child) {
        if (!child.hasAttribute("data-group")) return readRow(child);
        return {
          match: child.querySelector(":scope > .group-head .group-match").value,
          negate: child.querySelector(":scope > .group-head .group-negate").checked,
          conditions: readList(child.querySelector(":scope > .group-list"))
        };
      });
    }
    function sync() {
      hidden.value = JSON.stringify({ match: match.value, negate: !!rule.negate, conditions: readList(list) });
      document.body.dispatchEvent(new CustomEvent("rule-changed"));
    }
    fill(list, rule.conditions || [], 0);
    document.getElementById("segment-add").addEventListener("click", function () {
      addRow({ field: document.getElementById("segment-add-field").value }, list);
      sync();
    });
    document.getElementById("segment-add-group").addEventListener("click", function () {
      addGroup({ match: "any", conditions: [] }, list, 1);
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
