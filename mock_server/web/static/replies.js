// How both pages read and say what the mock's reply queue holds (GET __mock__/replies, each
// reply with the fields of docs/mock-server.md, Scripted replies): one wording for the chat
// page's notice and the inspector's queue. Plain text only: the callers put it in with
// textContent.
"use strict";
(() => {
  function quoted(value) {
    return typeof value === "string" ? "“" + value + "”" : JSON.stringify(value);
  }

  // What the reply answers: the fault and the fields that change it, or the reply's text.
  function answerOf(reply) {
    const parts = [];
    if (reply.fault) {
      parts.push("fault " + reply.fault);
      if (reply.status !== null && reply.status !== undefined) {
        parts.push(String(reply.status));
      }
      if (reply.message !== null && reply.message !== undefined) {
        parts.push(quoted(reply.message));
      }
    } else {
      parts.push(reply.message === null || reply.message === undefined
        ? "the reply mode's answer" : quoted(reply.message));
      if (reply.status !== 200) {
        parts.push("status " + reply.status);
      }
      if (reply.response === false) {
        parts.push("response false");
      } else if (reply.response === null) {
        parts.push("no response key");
      }
    }
    if (reply.retry_after !== null && reply.retry_after !== undefined) {
      parts.push("Retry-After " + reply.retry_after +
                 (typeof reply.retry_after === "number" ? " s" : ""));
    }
    if (reply.delay_ms) {
      parts.push("after " + reply.delay_ms + " ms");
    }
    return parts.join(" · ");
  }

  // The keys of a match (docs/mock-server.md, Matching) as words; the others as they are.
  const MATCH_WORDS = {
    message: "prompt is", message_contains: "prompt contains", message_regex: "prompt matches",
    last_turn: "last turn is", last_turn_contains: "last turn contains",
  };

  // The requests it answers: every one, or those its match holds for.
  function matchOf(reply) {
    const match = reply.match || {};
    const keys = Object.keys(match);
    if (keys.length === 0) {
      return "every message";
    }
    return keys.map((key) => (MATCH_WORDS[key] || key) + " " + quoted(match[key])).join(", ");
  }

  function usesOf(reply) {
    if (reply.times === null) {
      return "standing";
    }
    return reply.times + (reply.times === 1 ? " use" : " uses") + " left";
  }

  // The reply the next message gets for sure: the first that holds for every message (one
  // queued before it with a match may still answer a message it matches); null if none.
  function nextForEvery(replies) {
    return replies.find((reply) => Object.keys(reply.match || {}).length === 0) || null;
  }

  // The queue at url (GET .../__mock__/replies), in queue order; rejects when it cannot be read.
  async function fetchQueue(url) {
    const response = await fetch(url, { cache: "no-store" });
    if (!response.ok) {
      throw new Error("HTTP " + response.status);
    }
    return (await response.json()).replies;
  }

  window.mockReplies = Object.freeze({ answerOf, matchOf, usesOf, nextForEvery, fetchQueue });
})();
