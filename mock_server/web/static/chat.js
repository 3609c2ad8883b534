// The chat page: keeps the conversation, flattens it exactly as the provider does (docs/provider.md, What it sends)
// and posts the provider's JSON body to the site's API. Text only ever goes in as textContent.
"use strict";
(() => {
  // Relative to /chat, so the page works on any host, port or mount point (and in a
  // namespace, /ns/{name}/chat, on that namespace's API and queue).
  const API_URL = "api/text";
  const REPLIES_URL = "__mock__/replies";
  const DETAIL_CHARS = 200;
  // How often the page looks at the mock's queue, to say when the next answer is scripted.
  const QUEUE_INTERVAL_MS = 1500;

  // contract/openapi.json: for each message role + ": " + content + "\n", then the literal "assistant:".
  function flatten(messages) {
    let base = "";
    for (const message of messages) {
      base += message.role + ": " + message.content + "\n";
    }
    return base + "assistant:";
  }

  // The provider's body: exactly these keys, in this order, with integer defaults.
  function requestBody(message) {
    return { message: message, temperature: 1, presence_penalty: 0, top_p: 1,
             frequency_penalty: 0 };
  }

  // The browser test checks these against the provider's own flattening.
  window.chatPage = Object.freeze({ flatten: flatten, requestBody: requestBody });

  const conversation = document.getElementById("conversation");
  const empty = document.getElementById("empty");
  const errorBox = document.getElementById("error");
  const composer = document.getElementById("composer");
  const prompt = document.getElementById("prompt");
  const send = document.getElementById("send");
  const system = document.getElementById("system");
  const status = document.getElementById("status");
  const scripted = document.getElementById("scripted");
  const HINT = status.textContent;

  // Answered turns only: what is on screen is what the next request flattens.
  let turns = [];
  let pending = null; // the AbortController of the request in flight

  function systemMessages() {
    const text = system.value;
    return text.trim() === "" ? [] : [{ role: "system", content: text }];
  }

  function addMessage(role, text) {
    const item = document.createElement("article");
    item.className = "message " + role;
    const avatar = document.createElement("div");
    avatar.className = "avatar";
    avatar.setAttribute("aria-hidden", "true");
    avatar.textContent = role === "user" ? "You" : "AI";
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    const label = document.createElement("div");
    label.className = "role";
    label.textContent = role === "user" ? "You" : "Assistant";
    const content = document.createElement("div");
    content.className = "content";
    content.textContent = text;
    bubble.append(label, content);
    item.append(avatar, bubble);
    conversation.appendChild(item);
    empty.hidden = true;
    conversation.scrollTop = conversation.scrollHeight;
    return item;
  }

  function showError(problem) {
    errorBox.replaceChildren();
    const title = document.createElement("strong");
    title.className = "error-title";
    title.textContent = problem.title;
    errorBox.append(title);
    if (problem.detail) {
      const detail = document.createElement("span");
      detail.className = "error-detail";
      detail.textContent = problem.detail;
      errorBox.append(detail);
    }
    errorBox.dataset.kind = problem.kind;
    errorBox.hidden = false;
  }

  function hideError() {
    errorBox.hidden = true;
    errorBox.replaceChildren();
    delete errorBox.dataset.kind;
  }

  function updateSend() {
    send.disabled = pending !== null || prompt.value.trim() === "";
    conversation.setAttribute("aria-busy", String(pending !== null));
  }

  function resizePrompt() {
    prompt.style.height = "auto";
    prompt.style.height = Math.min(prompt.scrollHeight, 200) + "px";
  }

  function shorten(text) {
    const flat = text.replace(/\s+/g, " ").trim();
    return flat.length > DETAIL_CHARS ? flat.slice(0, DETAIL_CHARS - 1) + "…" : flat;
  }

  // A short, plain-text account of an answer body for an error message.
  function describeBody(text, contentType) {
    if (text === "") {
      return "the answer is empty";
    }
    if (/html/i.test(contentType) || /^\s*<(!doctype|html)/i.test(text)) {
      // A parsed document is inert: nothing in it runs or loads.
      const title = new DOMParser().parseFromString(text, "text/html").title.trim();
      return "an HTML page" + (title ? " titled “" + shorten(title) + "”" : "") +
        " (a bot check or an error page)";
    }
    try {
      const data = JSON.parse(text);
      if (data && typeof data.message === "string") {
        return shorten(data.message);
      }
    } catch (ignored) {
      // not JSON: shown as text below
    }
    return shorten(text);
  }

  function httpTitle(response) {
    return "HTTP " + response.status + (response.statusText ? " " + response.statusText : "");
  }

  // One request to the API; resolves to {reply} or {problem}, rejects only when aborted.
  async function ask(message, signal) {
    let response;
    let text;
    try {
      response = await fetch(API_URL, {
        method: "POST",
        // no-store also makes the browser send the contract's no-cache headers.
        cache: "no-store",
        // The page's policy sends no Referer; this request sends this page's URL, to this
        // origin only: the inspector tells the chat page's requests by it from others.
        referrerPolicy: "same-origin",
        headers: { "accept": "*/*", "content-type": "application/json" },
        body: JSON.stringify(requestBody(message)),
        signal: signal,
      });
      text = await response.text();
    } catch (error) {
      if (signal.aborted) {
        throw error;
      }
      return { problem: { kind: "network", title: "Network error",
                          detail: "the request got no answer (" + error.message + ")" } };
    }
    const contentType = response.headers.get("content-type") || "";
    if (!response.ok) {
      // Each thing once: a body that only repeats the status's reason adds nothing to it.
      const body = describeBody(text, contentType);
      const details = body.toLowerCase() === response.statusText.toLowerCase() ? [] : [body];
      const retryAfter = response.headers.get("retry-after");
      if (retryAfter) {
        details.push("retry after " + retryAfter + (/^\d+$/.test(retryAfter) ? " s" : ""));
      }
      return { problem: { kind: "http", title: httpTitle(response), detail: details.join("; ") } };
    }
    let data;
    try {
      data = JSON.parse(text);
    } catch (ignored) {
      return { problem: { kind: "answer", title: httpTitle(response) + ", not JSON",
                          detail: describeBody(text, contentType) } };
    }
    if (data === null || typeof data !== "object" || typeof data.message !== "string") {
      return { problem: { kind: "answer", title: httpTitle(response) + ", no message",
                          detail: "the answer has no text message: " + shorten(text) } };
    }
    if (data.response === false) {
      return { problem: { kind: "refusal", title: "The site refused", detail: data.message } };
    }
    // Early answers of the real site had no "response" key: a message alone is a reply.
    return { reply: data.message };
  }

  async function submit() {
    const text = prompt.value;
    if (pending !== null || text.trim() === "") {
      return;
    }
    hideError();
    const turn = { role: "user", content: text };
    const message = flatten(systemMessages().concat(turns, [turn]));
    const bubble = addMessage("user", text);
    prompt.value = "";
    resizePrompt();
    const controller = new AbortController();
    pending = controller;
    updateSend();
    status.textContent = "Waiting for the reply…";
    let outcome;
    try {
      outcome = await ask(message, controller.signal);
    } catch (error) {
      if (controller.signal.aborted) {
        return; // "New chat" dropped this request and its bubble
      }
      outcome = { problem: { kind: "page", title: "Page error", detail: String(error) } };
    }
    if (controller.signal.aborted) {
      return;
    }
    if ("reply" in outcome) {
      turns.push(turn, { role: "assistant", content: outcome.reply });
      addMessage("assistant", outcome.reply);
    } else {
      // An unanswered turn leaves the conversation; its text goes back for another try.
      bubble.remove();
      empty.hidden = conversation.querySelector(".message") !== null;
      if (prompt.value === "") {
        prompt.value = text;
        resizePrompt();
      }
      showError(outcome.problem);
    }
    // Idle again only once the outcome is on screen (tests wait for aria-busy="false").
    pending = null;
    status.textContent = HINT;
    updateSend();
    showQueue();
  }

  // What the mock's queue holds for this page's next message, said above the input: the
  // page answers what the mock answers, and a queued fault should not come as a surprise.
  async function showQueue() {
    let replies;
    try {
      replies = await mockReplies.fetchQueue(REPLIES_URL);
    } catch (ignored) {
      scripted.hidden = true; // a mock without the admin API, or gone: nothing to say
      return;
    }
    if (replies.length === 0) {
      scripted.hidden = true;
      scripted.replaceChildren();
      return;
    }
    // A reply for every message answers the next one (unless one queued before it matches
    // it first); replies with a match only answer the messages they match.
    const next = mockReplies.nextForEvery(replies);
    const shown = next || replies[0];
    const head = document.createElement("strong");
    head.textContent = next ? "Next answer scripted:" : "Scripted for some messages only:";
    const what = (next ? "" : mockReplies.matchOf(shown) + " → ") +
      mockReplies.answerOf(shown) + " (" + mockReplies.usesOf(shown) + ")";
    const more = replies.length > 1 ? " · " + (replies.length - 1) + " more queued" : "";
    scripted.replaceChildren(head, " " + what + more);
    scripted.dataset.fault = shown.fault || "";
    scripted.hidden = false;
  }

  function watchQueue() {
    if (document.visibilityState === "visible") {
      showQueue();
    }
    setTimeout(watchQueue, QUEUE_INTERVAL_MS);
  }

  function newChat() {
    if (pending !== null) {
      pending.abort();
      pending = null;
    }
    turns = [];
    for (const item of conversation.querySelectorAll(".message")) {
      item.remove();
    }
    empty.hidden = false;
    hideError();
    status.textContent = HINT;
    updateSend();
    prompt.focus();
  }

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  prompt.addEventListener("keydown", (event) => {
    // Enter sends; Shift+Enter (and Enter while an input method composes) adds a line.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  prompt.addEventListener("input", () => {
    resizePrompt();
    updateSend();
  });
  document.getElementById("new-chat").addEventListener("click", newChat);

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") {
      showQueue();
    }
  });

  updateSend();
  prompt.focus();
  watchQueue();
})();
