// Keeps the conversation, flattens it as the provider does and posts the provider's body.
"use strict";
const turns = [];
const log = document.getElementById("log");

function flatten(messages) {
  return messages.map((m) => m.role + ": " + m.content + "\n").join("") + "assistant:";
}

function show(role, text) {
  const item = document.createElement("li");
  item.className = role;
  item.textContent = role + ": " + text;
  log.appendChild(item);
}

document.getElementById("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("prompt");
  const text = input.value;
  input.value = "";
  turns.push({ role: "user", content: text });
  show("user", text);
  const body = { message: flatten(turns), temperature: 1, presence_penalty: 0, top_p: 1,
                 frequency_penalty: 0 };
  try {
    const response = await fetch("/api/text", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await response.json();
    if (data.response === false) {
      show("error", data.message);
    } else {
      turns.push({ role: "assistant", content: data.message });
      show("assistant", data.message);
    }
  } catch (error) {
    show("error", String(error));
  }
});
