// The inspector: polls the journal and redraws it as a table, of every namespace or of the one
// the filter names (the inspector of /ns/{name}/__mock__/ shows its namespace only), and is
// the demo's control panel: the reply queue of the namespace shown, a fault picker, remove
// and clear, all through the admin API. Journal entries and replies hold arbitrary client
// input, so every value reaches the page as textContent, never as markup.
"use strict";
(() => {
  const LIMIT = 200;
  const INTERVAL_MS = 1000;
  const MESSAGE_CHARS = 240;
  const MESSAGE_LINES = 4;
  const SHOWN_VIOLATIONS = 3;
  const COLUMNS = 10;
  const API_PATH = "/api/text";
  const CHAT_PATH = "/chat";
  const REPLIES_PATH = "/__mock__/replies";
  const NAMESPACE_PREFIX = "/ns/";
  // The flattened prompt: "role: content\n" per message, then "assistant:" (docs/provider.md, What it sends).
  const ROLES = ["system", "user", "assistant", "function", "tool", "developer"];
  const TURN_START = new RegExp("(?:^|\n)(?:" + ROLES.join("|") + "): ", "g");
  const PROMPT_END = "assistant:";

  const requestsUrl = document.body.dataset.requestsUrl;
  const namespacesUrl = document.body.dataset.namespacesUrl;
  const filter = document.getElementById("namespace-filter"); // absent in a namespace's page
  const tbody = document.getElementById("entries");
  const total = document.getElementById("total");
  const shown = document.getElementById("shown");
  const pollStatus = document.getElementById("poll-status");
  const autoRefresh = document.getElementById("auto-refresh");
  const clearButton = document.getElementById("clear");
  const repliesUrl = document.body.dataset.repliesUrl;
  const pageNamespace = document.body.dataset.namespace;
  const queued = document.getElementById("queued");
  const queueNamespace = document.getElementById("queue-namespace");
  const queueStatus = document.getElementById("queue-status");
  const clearQueueButton = document.getElementById("clear-queue");
  const faultForm = document.getElementById("fault-form");
  const faultName = document.getElementById("fault-name");
  const faultSummary = document.getElementById("fault-summary");
  const field = (id) => document.getElementById("fault-" + id);

  const open = new Set(); // ids whose full entry is shown
  let timer = null;
  let asked = 0; // polls may overlap a clear: only the newest answer is drawn
  let drawn = 0;
  let latest = null; // probeKey of what is drawn; null until the first draw
  let queueDrawn = null; // the queue as last drawn (its JSON), and whose it was

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

  function plural(count, word) {
    return count + " " + word + (count === 1 ? "" : "s");
  }

  function turnsIn(text) {
    return (text.match(TURN_START) || []).length;
  }

  // The last user turn of a flattened prompt, as the mock's echo finds it (the turn ends where
  // a line starts with a known role and ": "), and how many turns come before and after it;
  // null when the prompt has no user turn.
  function lastUserTurn(prompt) {
    const text = prompt.endsWith(PROMPT_END) ? prompt.slice(0, -PROMPT_END.length) : prompt;
    let line = text.lastIndexOf("\nuser: ");
    if (line >= 0) {
      line += 1;
    } else if (text.startsWith("user: ")) {
      line = 0;
    } else {
      return null;
    }
    const start = line + "user: ".length;
    const next = new RegExp("\n(?:" + ROLES.join("|") + "): ", "g");
    next.lastIndex = start;
    const found = next.exec(text);
    const end = found ? found.index : text.length;
    let turn = text.slice(start, end);
    if (turn.endsWith("\n") && end === text.length) {
      turn = turn.slice(0, -1);
    }
    return { turn: turn, before: turnsIn(text.slice(0, line)), after: turnsIn(text.slice(end)) };
  }

  // At most MESSAGE_LINES lines and MESSAGE_CHARS characters of a text, and what was left out.
  function clip(text) {
    const lines = text.split("\n");
    let kept = lines.slice(0, MESSAGE_LINES).join("\n");
    let cut = lines.length > MESSAGE_LINES ? plural(lines.length - MESSAGE_LINES, "more line") : "";
    if (kept.length > MESSAGE_CHARS) {
      kept = kept.slice(0, MESSAGE_CHARS);
      cut = plural(text.length - MESSAGE_CHARS, "more character");
    }
    return { kept: kept, cut: cut };
  }

  function messageCell(entry) {
    const cell = element("td", "message-cell");
    const message = messageOf(entry);
    if (message !== null) {
      // The last user turn is what differs from one request of a conversation to the next;
      // the turns around it are counted, and whatever is left out is said.
      const parsed = lastUserTurn(message);
      const shown = clip(parsed === null ? message : parsed.turn);
      if (parsed !== null && parsed.before > 0) {
        cell.append(element("div", "cut cut-before", "⋯ " + plural(parsed.before, "earlier turn")));
      }
      const text = element("div", "message-text", shown.kept);
      text.title = shorten(message, 2000);
      cell.append(text);
      if (shown.cut) {
        cell.append(element("div", "cut cut-after", "… " + shown.cut));
      }
      if (parsed !== null && parsed.after > 0) {
        cell.append(element("div", "cut cut-later", "⋯ " + plural(parsed.after, "later turn")));
      }
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

  // Sent by this mock's own chat page: its requests carry the page's URL as their Referer
  // (chat.js asks for it, to this origin only), on the host they were sent to. The provider's
  // Referer is the real site's; a page script cannot set this header itself.
  // Through the proxy (--intercept) the mock is the real site's host, and the provider's
  // Referer is the page's too: there, a request whose headers are the contract's is a client
  // of the site, not a browser on the page.
  function fromChatPage(entry) {
    const headers = entry.headers || {};
    if (typeof headers.referer !== "string" || typeof headers.host !== "string") {
      return false;
    }
    if (entry.via === "proxy" && Object.keys(entry.header_diff || {}).length === 0) {
      return false;
    }
    let referer;
    try {
      referer = new URL(headers.referer);
    } catch (ignored) {
      return false;
    }
    const page = (entry.namespace ? NAMESPACE_PREFIX + entry.namespace : "") + CHAT_PATH;
    return referer.host === headers.host && referer.pathname === page;
  }

  function headerDiffCell(entry) {
    const cell = element("td", "header-diff");
    const names = Object.keys(entry.header_diff || {});
    if (names.length === 0) {
      cell.append(muted(entry.path === API_PATH ? "none" : "—"));
      return cell;
    }
    const listed = names.map((name) => {
      const diff = entry.header_diff[name] || {};
      return name + ": expected " + JSON.stringify(diff.expected) +
        ", received " + JSON.stringify(diff.received);
    }).join("\n");
    if (fromChatPage(entry)) {
      // A browser sends its own headers, not the provider's: no breach of the contract.
      cell.append(muted("a browser's own"));
      cell.title = "Sent by the chat page from a browser, whose headers are its own; " +
        "they are not compared with the provider's.\n" + listed;
      return cell;
    }
    cell.append(element("span", "count", String(names.length)), " ",
                element("span", "label", names.length === 1 ? "header differs" : "headers differ"),
                element("div", "names", names.join(", ")));
    cell.title = listed;
    return cell;
  }

  function pathCell(entry) {
    const cell = element("td", "path", entry.path + (entry.query ? "?" + entry.query : ""));
    if (fromChatPage(entry)) {
      cell.append(element("span", "tag source", "chat page"));
    }
    if (entry.via === "proxy") {
      // Came through the mock as an intercepting proxy (aichat-mock --intercept).
      const tag = element("span", "tag source", "via proxy");
      tag.title = entry.scheme + "://" + entry.host;
      cell.append(tag);
    }
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
    const namespace = entry.namespace ? element("td", "namespace", entry.namespace)
      : element("td", "namespace muted", "default");
    namespace.title = entry.namespace || "the default namespace";
    row.append(first, element("td", "id", String(id)), time, namespace,
               element("td", "method", entry.method), pathCell(entry), statusCell(entry),
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

  // The view the filter chooses: ?namespace= with a name, "" (the default one) or * (all).
  function view() {
    return filter ? "namespace=" + encodeURIComponent(filter.value) : "";
  }

  async function journal(limit) {
    const choice = view();
    const response = await fetch(requestsUrl + "?limit=" + limit + (choice ? "&" + choice : ""),
                                 { cache: "no-store" });
    if (!response.ok) {
      throw new Error("HTTP " + response.status);
    }
    return response.json();
  }

  // The filter's choices: every namespace the mock knows, kept as they come and go.
  async function refreshNamespaces() {
    if (!filter) {
      return;
    }
    const response = await fetch(namespacesUrl, { cache: "no-store" });
    if (!response.ok) {
      throw new Error("HTTP " + response.status);
    }
    const names = (await response.json()).namespaces.map((item) => item.name)
      .filter((name) => name !== "");
    const chosen = filter.value;
    if (chosen !== "*" && chosen !== "" && !names.includes(chosen)) {
      names.push(chosen);
    }
    const current = Array.from(filter.options).slice(2).map((option) => option.value);
    if (current.join("\n") !== names.join("\n")) {
      const options = names.map((name) => {
        const option = element("option", "", name);
        option.value = name;
        return option;
      });
      filter.replaceChildren(filter.options[0], filter.options[1], ...options);
      filter.value = chosen;
    }
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
    refreshQueue(force);
    try {
      await refreshNamespaces();
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
      const choice = view();
      const response = await fetch(requestsUrl + (choice ? "?" + choice : ""), {
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

  // --- the control panel: the reply queue and the fault picker ---------------------------

  // The namespace whose queue is shown: this page's, or the one the filter names (the
  // default one for "all namespaces": the queue is a namespace's, and the chat page's is).
  function queueChoice() {
    if (!filter || filter.value === "*" || filter.value === "") {
      return pageNamespace;
    }
    return filter.value;
  }

  function queueUrl() {
    const name = queueChoice();
    if (name === pageNamespace) {
      return repliesUrl;
    }
    const root = repliesUrl.slice(0, repliesUrl.length - REPLIES_PATH.length);
    return root + NAMESPACE_PREFIX + encodeURIComponent(name) + REPLIES_PATH;
  }

  function setQueueStatus(text, kind) {
    queueStatus.textContent = text;
    queueStatus.dataset.kind = kind;
  }

  function queueRow(reply) {
    const row = element("tr", "queued-reply");
    row.dataset.id = reply.id;
    const remove = element("button", "button secondary small", "Remove");
    remove.type = "button";
    remove.setAttribute("aria-label", "Remove " + reply.id);
    remove.addEventListener("click", () => removeReply(reply.id, remove));
    const last = element("td", "remove");
    last.append(remove);
    const answer = element("td", "answer", mockReplies.answerOf(reply));
    if (reply.fault) {
      answer.classList.add("is-fault");
    }
    row.append(element("td", "id", reply.id), answer,
               element("td", "for", mockReplies.matchOf(reply)),
               element("td", "uses", reply.times === null ? "standing" : String(reply.times)),
               last);
    return row;
  }

  function drawQueue(replies) {
    const rows = replies.map(queueRow);
    if (rows.length === 0) {
      const row = element("tr", "placeholder");
      const cell = element("td", "", "Nothing queued: every message gets the reply mode's " +
                                     "answer. Queue a fault above.");
      cell.colSpan = 5;
      row.append(cell);
      rows.push(row);
    }
    queued.replaceChildren(...rows);
    clearQueueButton.disabled = replies.length === 0;
  }

  async function refreshQueue(force) {
    const name = queueChoice();
    queueNamespace.textContent = name === "" ? "· default namespace" : "· namespace " + name;
    try {
      const replies = await mockReplies.fetchQueue(queueUrl());
      const key = name + "\n" + JSON.stringify(replies);
      if (force || key !== queueDrawn) {
        queueDrawn = key;
        drawQueue(replies);
      }
    } catch (error) {
      setQueueStatus("cannot read the queue (" + error.message + ")", "error");
    }
  }

  // The admin API's answer, or an Error with its refusal ({"error": "..."}) as the message.
  async function admin(method, url, body) {
    const options = { method: method, cache: "no-store", headers: { "accept": "application/json" } };
    if (body !== undefined) {
      options.headers["content-type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      throw new Error(data && typeof data.error === "string" ? data.error
        : "HTTP " + response.status);
    }
    return data;
  }

  // A field as typed: a whole number where it is one, else the text (the admin API refuses
  // what does not fit the field, in its own words); nothing when it is left empty.
  function typed(text) {
    const value = text.trim();
    if (value === "") {
      return undefined;
    }
    return /^-?\d+$/.test(value) ? Number(value) : value;
  }

  function faultReply() {
    const reply = { fault: faultName.value };
    const options = {
      times: field("standing").checked ? null : typed(field("times").value),
      retry_after: typed(field("retry-after").value),
      status: typed(field("status").value),
      message: field("message").value === "" ? undefined : field("message").value,
      delay_ms: typed(field("delay").value),
    };
    for (const [name, value] of Object.entries(options)) {
      if (value !== undefined) {
        reply[name] = value;
      }
    }
    const contains = field("match").value;
    if (contains !== "") {
      reply.match = { last_turn_contains: contains };
    }
    return reply;
  }

  async function queueFault(event) {
    event.preventDefault();
    const button = document.getElementById("queue-fault");
    button.disabled = true;
    try {
      const result = await admin("POST", queueUrl(), faultReply());
      setQueueStatus("queued " + faultName.value + " as " + result.ids[0], "live");
      await refreshQueue(true);
    } catch (error) {
      setQueueStatus("not queued: " + error.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  async function removeReply(id, button) {
    button.disabled = true;
    try {
      await admin("DELETE", queueUrl() + "/" + encodeURIComponent(id));
      setQueueStatus("removed " + id, "live");
    } catch (error) {
      setQueueStatus("could not remove " + id + ": " + error.message, "error");
    }
    await refreshQueue(true);
  }

  async function clearQueue() {
    clearQueueButton.disabled = true;
    try {
      const result = await admin("DELETE", queueUrl());
      setQueueStatus("cleared " + result.cleared + (result.cleared === 1 ? " reply" : " replies"),
                     "live");
    } catch (error) {
      setQueueStatus("could not clear the queue: " + error.message, "error");
    }
    await refreshQueue(true);
  }

  // The chosen fault's summary from the catalogue, and its own status as the placeholder.
  function describeFault() {
    const option = faultName.selectedOptions[0];
    faultSummary.textContent = option ? option.dataset.summary : "";
    field("status").placeholder = option && option.dataset.status ? option.dataset.status
      : "none";
  }

  faultName.addEventListener("change", describeFault);
  field("standing").addEventListener("change", () => {
    field("times").disabled = field("standing").checked;
  });
  faultForm.addEventListener("submit", queueFault);
  clearQueueButton.addEventListener("click", clearQueue);
  describeFault();

  clearButton.addEventListener("click", clearJournal);
  if (filter) {
    filter.addEventListener("change", async () => {
      open.clear();
      latest = null;
      await refresh(true);
      schedule();
    });
  }
  autoRefresh.addEventListener("change", async () => {
    await refresh(true);
    schedule();
  });

  refresh(true).then(schedule);
})();
