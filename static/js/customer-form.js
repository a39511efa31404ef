// Show the person or the company fields of the new-customer form, by the chosen type.
(function () {
  const personOnly = ["first_name", "last_name", "tckn", "birth_date", "gender"];
  const companyOnly = ["trade_name", "tax_id", "tax_office"];
  function apply() {
    const checked = document.querySelector("input[name=kind]:checked");
    const isCompany = checked && checked.value === "company";
    for (const name of personOnly) {
      const el = document.getElementById("div_id_" + name);
      if (el) el.hidden = isCompany;
    }
    for (const name of companyOnly) {
      const el = document.getElementById("div_id_" + name);
      if (el) el.hidden = !isCompany;
    }
  }
  document.addEventListener("change", (event) => {
    if (event.target.name === "kind") apply();
  });
  document.addEventListener("DOMContentLoaded", apply);
})();
