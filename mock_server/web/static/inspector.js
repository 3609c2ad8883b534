// The inspector: polls the journal and redraws it as a table. Journal entries hold arbitrary
// client input, so every value reaches the page as textContent, never as markup.
"use strict";
(() => {
  const LIMIT = 200;
  const INTERVAL_MS = 1000;
  const MESSAGE_CHARS = 240;
  const SHOWN_VIOLATIONS = 3;
  const COLUMNS = 9;
  const API_PATH = "/api/text";

  const requestsUrl = document.body.dataset.requestsUrl;
  const tbody = document.getElementById("entries");
  const total = document.getElementById("total");
  const shown = document.getElementById("shown");
  const pollStatus = document.getElementById("poll-status");
  const autoRefresh = document.getElementById("auto-refresh");
  const clearButton = document.getElementById("clear");

  const open = new Set(); // ids whose full entry is shown
  let timer = null;
  let asked = 0; // polls may overlap a clear: only the newest answer is drawn
  let drawn = 0;
  let latest = null; // probeKey of what is drawn; null until the first draw

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function shorten(text, limit) {
    return text.length > limit ? text.slice(0, limit - 1) + "…" : text;
  }

  function muted(text) {
    return element("span", "muted", text);
  }

  function messageOf(entry) {
    const data = entry.json;
    const isObject = data !== null && typeof data === "object" && !Array.isArray(data);
    return isObject && typeof data.message === "string" ? data.message : null;
  }

  function statusCell(entry) {
    const cell = element("td", "status");
    if (entry.status === null || entry.status === undefined) {
      cell.append(muted("no answer"));
    } else {
      const code = element("span", "code code-" + String(entry.status).charAt(0), String(entry.status));
      cell.append(code);
    }
    if (entry.fault) {
      cell.append(" ", element("span", "tag fault", entry.fault));
    } else if (entry.scripted) {
      cell.append(" ", element("span", "tag", "scripted"));
    }
    return cell;
  }

  function messageCell(entry) {
    const cell = element("td", "message-cell");
    const message = messageOf(entry);
    if (message !== null) {
      const text = element("div", "message-text", shorten(message, MESSAGE_CHARS));
      text.title = shorten(message, 2000);
      cell.append(text);
    } else if (entry.body) {
      cell.append(muted("no JSON message: "),
                  element("code", "body-excerpt", shorten(entry.body, 80)));
    } else {
      cell.append(muted("—"));
    }
    return cell;
  }

  function violationsCell(entry) {
    const cell = element("td", "violations");
    const violations = entry.violations || [];
    if (violations.length === 0) {
      cell.append(muted(entry.path === API_PATH ? "none" : "—"));
      return cell;
    }
    const list = element("ul", "plain");
    for (const violation of violations.slice(0, SHOWN_VIOLATIONS)) {
      list.append(element("li", "bad", shorten(String(violation), 160)));
    }
    if (violations.length > SHOWN_VIOLATIONS) {
      list.append(element("li", "muted", "… " + (violations.length - SHOWN_VIOLATIONS) + " more"));
    }
    cell.append(list);
    return cell;
  }

  function headerDiffCell(entry) {
    const cell = element("td", "header-diff");
    const names = Object.keys(entry.header_diff || {});
    if (names.length === 0) {
      cell.append(muted(entry.path === API_PATH ? "none" : "—"));
      return cell;
    }
    cell.append(element("span", "count", String(names.length)), " ",
                element("span", "label", names.length === 1 ? "header differs" : "headers differ"),
                element("div", "names", names.join(", ")));
    cell.title = names.map((name) => {
      const diff = entry.header_diff[name] || {};
      return name + ": expected " + JSON.stringify(diff.expected) +
        ", received " + JSON.stringify(diff.received);
    }).join("\n");
    return cell;
  }

  // The full JSON is built on first opening only: bodies can be large.
  function fillDetails(details, entry) {
    if (details.firstChild === null) {
      const full = element("td");
      full.colSpan = COLUMNS;
      full.append(element("pre", "entry-json", JSON.stringify(entry, null, 2)));
      details.append(full);
    }
  }

  function toggle(entry, button, details) {
    const expanded = !open.has(entry.id);
    if (expanded) {
      open.add(entry.id);
      fillDetails(details, entry);
    } else {
      open.delete(entry.id);
    }
    button.setAttribute("aria-expanded", String(expanded));
    button.textContent = expanded ? "▾" : "▸";
    details.hidden = !expanded;
  }

  function rows(entry) {
    const id = entry.id;
    const row = element("tr", "entry");
    row.dataset.id = String(id);
    const details = element("tr", "details");
    details.id = "details-" + id;
    details.hidden = !open.has(id);
    if (open.has(id)) {
      fillDetails(details, entry);
    }

    const button = element("button", "expand", open.has(id) ? "▾" : "▸");
    button.type = "button";
    button.title = "Show the full entry as JSON";
    button.setAttribute("aria-label", "Details of request " + id);
    button.setAttribute("aria-expanded", String(open.has(id)));
    button.setAttribute("aria-controls", details.id);
    button.addEventListener("click", () => toggle(entry, button, details));
    const first = element("td");
    first.append(button);

    const time = element("td", "time", String(entry.time || "").slice(11, 23));
    time.title = String(entry.time || "");
    const path = element("td", "path", entry.path + (entry.query ? "?" + entry.query : ""));
    row.append(first, element("td", "id", String(id)), time,
               element("td", "method", entry.method), path, statusCell(entry),
               messageCell(entry), violationsCell(entry), headerDiffCell(entry));
    return [row, details];
  }

  function draw(data) {
    total.textContent = String(data.total);
    shown.textContent = String(data.requests.length);
    const live = new Set(data.requests.map((entry) => entry.id));
    for (const id of open) {
      if (!live.has(id)) {
        open.delete(id);
      }
    }
    const fresh = [];
    for (const entry of data.requests.slice().reverse()) {
      fresh.push(...rows(entry));
    }
    if (fresh.length === 0) {
      const row = element("tr", "placeholder");
      const cell = element("td", "", "No requests recorded yet. Open the chat page or POST to " +
                                     API_PATH + ".");
      cell.colSpan = COLUMNS;
      row.append(cell);
      fresh.push(row);
    }
    tbody.replaceChildren(...fresh);
  }

  function setPollStatus(text, kind) {
    pollStatus.textContent = text;
    pollStatus.dataset.kind = kind;
  }

  function showPolling() {
    setPollStatus(autoRefresh.checked ? "● live" : "paused",
                  autoRefresh.checked ? "live" : "paused");
  }

  async function journal(limit) {
    const response = await fetch(requestsUrl + "?limit=" + limit, { cache: "no-store" });
    if (!response.ok) {
      throw new Error("HTTP " + response.status);
    }
    return response.json();
  }

  // Entries never change once recorded and ids are never reused: the total and the newest id
  // tell whether anything changed, so an idle journal costs one small request a second and
  // the table (with any text selected in it) stays as it is.
  function probeKey(data) {
    const last = data.requests[data.requests.length - 1];
    return data.total + "|" + (last ? last.id : "");
  }

  async function refresh(force) {
    const ticket = ++asked;
    try {
      if (!force && latest !== null) {
        const probe = await journal(1);
        if (probeKey(probe) === latest) {
          showPolling();
          return;
        }
      }
      const data = await journal(LIMIT);
      if (ticket < drawn) {
        return;
      }
      drawn = ticket;
      latest = probeKey(data);
      draw(data);
      showPolling();
    } catch (error) {
      setPollStatus("cannot read the journal (" + error.message + "); retrying", "error");
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = null;
    if (autoRefresh.checked) {
      timer = setTimeout(async () => {
        await refresh();
        schedule();
      }, INTERVAL_MS);
    }
  }

  async function clearJournal() {
    clearButton.disabled = true;
    try {
      const response = await fetch(requestsUrl, {
        method: "DELETE", cache: "no-store",
        headers: { "accept": "application/json", "content-type": "application/json" },
      });
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      const result = await response.json();
      open.clear();
      await refresh(true);
      setPollStatus("cleared " + result.cleared + " entries", "live");
    } catch (error) {
      setPollStatus("could not clear the journal (" + error.message + ")", "error");
    } finally {
      clearButton.disabled = false;
    }
  }

  clearButton.addEventListener("click", clearJournal);
  autoRefresh.addEventListener("change", async () => {
    await refresh(true);
    schedule();
  });

  refresh(true).then(schedule);
})();
