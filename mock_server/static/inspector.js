// Redraws the journal table from the admin API every second.
"use strict";
function cell(row, value) {
  const td = document.createElement("td");
  td.textContent = typeof value === "string" ? value : JSON.stringify(value);
  row.appendChild(td);
}

async function refresh() {
  try {
    const data = await (await fetch("/__mock__/requests?limit=200")).json();
    document.getElementById("total").textContent = data.total;
    const body = document.querySelector("#journal tbody");
    body.replaceChildren();
    for (const entry of data.requests.slice().reverse()) {
      const row = document.createElement("tr");
      for (const key of ["id", "time", "method", "path", "status", "body", "reply", "violations"]) {
        cell(row, entry[key]);
      }
      body.appendChild(row);
    }
  } catch (error) {
    document.getElementById("total").textContent = "?";
  }
}
refresh();
setInterval(refresh, 1000);
