/* Guangzhou City Partner chat widget. Plain JS, no build step.
 *
 * Embed on any page with one tag:  <script src="https://HOST/widget.js" data-lang="zh" async></script>
 * It talks only to the origin it was loaded from (POST /api/chat, GET /api/chat/history).
 * The conversation token the server issued lives in localStorage and travels only in the X-Chat-Session
 * header (never in a URL); the transcript is NOT kept in the browser: on reload the widget
 * asks the gateway, which reads it from the assistant's own record (so what is shown is what the
 * assistant remembers, and answers given in a screening do not linger in the browser's storage).
 */
(function () {
  "use strict";
  if (window.GZCPChat) return; // loaded twice: keep the first

  var script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  var base = script ? new URL(script.src, location.href).origin : location.origin;
  var KEY_SESSION = "gzcp.conversation", KEY_LANG = "gzcp.lang", KEY_OPEN = "gzcp.open";

  var UI = {
    en: {
      launcher: "Chat with us", title: "City Partner assistant", close: "Close chat", toggle: "中文",
      toggleLabel: "中文: switch the chat to Chinese", log: "Conversation", input: "Your message",
      placeholder: "Type your question…", send: "Send", typing: "The assistant is typing…",
      replies: "Suggested replies", you: "You said:", bot: "Assistant:",
      offline: "Cannot reach the assistant. Check your connection and try again.",
      tooLong: "Your message is too long."
    },
    zh: {
      launcher: "在线咨询", title: "城市合伙人智能助手", close: "关闭对话", toggle: "EN",
      toggleLabel: "English: 切换到英文", log: "对话记录", input: "您的消息",
      placeholder: "请输入您的问题…", send: "发送", typing: "智能助手正在输入…",
      replies: "建议回复", you: "您说：", bot: "助手：",
      offline: "无法连接智能助手，请检查网络后重试。",
      tooLong: "消息过长。"
    }
  };
  var MAX_CHARS = 1000;

  function store(kind) { try { return window[kind]; } catch (e) { return null; } }
  function get(kind, key) { var s = store(kind); try { return s ? s.getItem(key) : null; } catch (e) { return null; } }
  function put(kind, key, value) { var s = store(kind); try { if (s) s.setItem(key, value); } catch (e) { /* private mode */ } }

  function sessionToken() { return get("localStorage", KEY_SESSION); }
  function keepSession(body) { if (body && body.session) put("localStorage", KEY_SESSION, body.session); }
  function initialLang() {
    var stored = get("localStorage", KEY_LANG);
    if (stored === "en" || stored === "zh") return stored;
    var wanted = (script && script.getAttribute("data-lang")) || document.documentElement.lang || navigator.language || "en";
    return /^zh/i.test(wanted) ? "zh" : "en";
  }

  var state = { lang: initialLang(), loaded: false, busy: false, empty: true };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text != null) node.textContent = text; // never innerHTML: replies are data, not markup
    return node;
  }

  // --- DOM ---------------------------------------------------------------------------------
  if (!document.querySelector('link[data-gzcp-css]')) {
    var css = el("link", { rel: "stylesheet", href: base + "/widget.css", "data-gzcp-css": "" });
    document.head.appendChild(css);
  }
  var root = el("div", { class: "gzcp-root", "data-open": "false" });
  var launcher = el("button", { type: "button", class: "gzcp-launcher", "aria-expanded": "false", "aria-controls": "gzcp-panel" });
  var launcherIcon = el("span", { "aria-hidden": "true" }, "💬");
  var launcherText = el("span");
  launcher.append(launcherIcon, launcherText);

  var panel = el("section", { id: "gzcp-panel", class: "gzcp-panel", role: "dialog", "aria-labelledby": "gzcp-title", hidden: "" });
  var head = el("div", { class: "gzcp-head" });
  var title = el("h2", { id: "gzcp-title", class: "gzcp-title" });
  var langButton = el("button", { type: "button", class: "gzcp-lang" });
  var closeButton = el("button", { type: "button", class: "gzcp-close" }, "×");
  head.append(title, langButton, closeButton);

  // role=log is polite by nature; aria-live is spelled out for screen readers that need it.
  var log = el("ol", { class: "gzcp-log", role: "log", "aria-live": "polite", "aria-relevant": "additions", tabindex: "0" });
  var typing = el("div", { class: "gzcp-typing", hidden: "" });
  var dots = el("span", { class: "gzcp-dots", "aria-hidden": "true" });
  dots.append(el("span"), el("span"), el("span"));
  var typingText = el("span");
  typing.append(dots, typingText);
  var typingStatus = el("div", { class: "gzcp-sr", role: "status" }); // announced once per wait
  var replies = el("div", { class: "gzcp-replies", role: "group" });
  var error = el("p", { class: "gzcp-error", role: "alert", hidden: "" });
  var form = el("form", { class: "gzcp-form" });
  var label = el("label", { for: "gzcp-input", class: "gzcp-sr" });
  var input = el("textarea", { id: "gzcp-input", class: "gzcp-input", rows: "1", maxlength: String(MAX_CHARS) });
  var send = el("button", { type: "submit", class: "gzcp-send" });
  form.append(label, input, send);
  panel.append(head, log, typing, typingStatus, replies, error, form);
  root.append(launcher, panel);

  function t(key) { return UI[state.lang][key]; }

  function applyLanguage() {
    root.setAttribute("lang", state.lang === "zh" ? "zh-CN" : "en");
    launcherText.textContent = t("launcher");
    launcher.setAttribute("aria-label", t("launcher"));
    title.textContent = t("title");
    closeButton.setAttribute("aria-label", t("close"));
    langButton.textContent = t("toggle");
    langButton.setAttribute("aria-label", t("toggleLabel"));
    log.setAttribute("aria-label", t("log"));
    label.textContent = t("input");
    input.setAttribute("placeholder", t("placeholder"));
    send.textContent = t("send");
    typingText.textContent = t("typing");
    replies.setAttribute("aria-label", t("replies"));
  }

  // --- messages --------------------------------------------------------------------------------
  function addMessage(from, text) {
    var item = el("li", { class: "gzcp-msg", "data-from": from });
    item.append(el("span", { class: "gzcp-sr" }, from === "user" ? t("you") : t("bot")), document.createTextNode(text));
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    state.empty = false;
  }

  function showReplies(buttons) {
    replies.textContent = "";
    (buttons || []).forEach(function (b) {
      var button = el("button", { type: "button", class: "gzcp-reply", "data-payload": b.payload }, b.title);
      button.addEventListener("click", function () { submit(b.payload, b.title); });
      replies.appendChild(button);
    });
  }

  function showError(text) {
    error.textContent = text || "";
    if (text) error.removeAttribute("hidden"); else error.setAttribute("hidden", "");
  }

  function setTyping(on) {
    if (on) { typing.removeAttribute("hidden"); typingStatus.textContent = t("typing"); }
    else { typing.setAttribute("hidden", ""); typingStatus.textContent = ""; }
    log.setAttribute("aria-busy", on ? "true" : "false");
  }

  function errorText(response, body) {
    if (body && body.message && body.message[state.lang]) return body.message[state.lang];
    return t("offline");
  }

  function request(method, path, payload) {
    var options = { method: method, headers: {}, credentials: "omit" };
    var token = sessionToken();
    if (token) options.headers["X-Chat-Session"] = token;
    if (payload) { options.headers["Content-Type"] = "application/json"; options.body = JSON.stringify(payload); }
    return fetch(base + path, options).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        if (!response.ok) throw new Error(errorText(response, body));
        keepSession(body); // the server issues the token (a new one when it did not issue the one sent)
        return body;
      });
    }, function () { throw new Error(t("offline")); });
  }

  // Replace the transcript with the conversation as the assistant recorded it.
  function loadHistory() {
    var path = "/api/chat/history?lang=" + state.lang;
    return request("GET", path).then(function (body) {
      log.textContent = "";
      state.empty = true;
      var last = null;
      body.messages.forEach(function (m) { addMessage(m.sender, m.text); last = m; });
      if (!body.messages.length) {
        addMessage("bot", body.welcome.text);
        state.empty = true; // only the welcome: it follows the language toggle
        showReplies(body.welcome.buttons);
      } else {
        // Quick replies belong to the assistant's last turn only.
        var trailing = [];
        for (var i = body.messages.length - 1; i >= 0 && body.messages[i].sender === "bot"; i--) {
          trailing = body.messages[i].buttons.concat(trailing);
        }
        showReplies(last && last.sender === "bot" ? trailing : []);
      }
      state.loaded = true;
      showError("");
    }, function (e) { showError(e.message); });
  }

  function submit(message, shown) {
    if (state.busy) return;
    message = (message || "").trim();
    if (!message) return;
    if (message.length > MAX_CHARS) { showError(t("tooLong")); return; }
    state.busy = true;
    send.disabled = true;
    showError("");
    showReplies([]);
    addMessage("user", shown || message);
    input.focus(); // a pressed quick reply has just gone: keep focus in the chat
    setTyping(true);
    request("POST", "/api/chat", { message: message, lang: state.lang }).then(function (body) {
      var buttons = [];
      body.messages.forEach(function (m) {
        if (m.text) addMessage("bot", m.text);
        buttons = buttons.concat(m.buttons || []);
      });
      showReplies(buttons);
      // The assistant answers in the language the user wrote in; the widget follows it.
      if (body.language && body.language !== state.lang) setLanguage(body.language, true);
    }, function (e) {
      showError(e.message);
      if (!shown && !input.value) input.value = message; // typed text comes back for another try
    }).then(function () {
      state.busy = false;
      send.disabled = false;
      setTyping(false);
    });
  }

  // --- open, close, language ---------------------------------------------------------------
  function open() {
    root.setAttribute("data-open", "true");
    panel.removeAttribute("hidden");
    launcher.setAttribute("aria-expanded", "true");
    put("sessionStorage", KEY_OPEN, "1");
    if (!state.loaded) loadHistory();
    input.focus();
  }
  function close() {
    root.setAttribute("data-open", "false");
    panel.setAttribute("hidden", "");
    launcher.setAttribute("aria-expanded", "false");
    put("sessionStorage", KEY_OPEN, "0");
    launcher.focus();
  }
  function setLanguage(lang, quiet) {
    if (lang !== "en" && lang !== "zh") return;
    var changed = lang !== state.lang;
    state.lang = lang;
    put("localStorage", KEY_LANG, lang);
    applyLanguage();
    document.dispatchEvent(new CustomEvent("gzcp:language", { detail: { lang: lang } }));
    // Nothing said yet: show the welcome in the new language.
    if (changed && !quiet && state.loaded && state.empty && !state.busy) loadHistory();
  }

  launcher.addEventListener("click", open);
  closeButton.addEventListener("click", close);
  langButton.addEventListener("click", function () { setLanguage(state.lang === "zh" ? "en" : "zh"); });
  root.addEventListener("keydown", function (e) { if (e.key === "Escape" && root.getAttribute("data-open") === "true") close(); });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value;
    if (!text.trim() || state.busy) return;
    input.value = "";
    submit(text);
  });
  input.addEventListener("keydown", function (e) {
    // Enter sends, Shift+Enter starts a new line (IME composition is left alone).
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : send.click(); }
  });

  function mount() {
    applyLanguage();
    document.body.appendChild(root);
    if (get("sessionStorage", KEY_OPEN) === "1") open();
  }
  window.GZCPChat = { open: open, close: close, setLanguage: setLanguage, language: function () { return state.lang; } };
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
  document.dispatchEvent(new CustomEvent("gzcp:language", { detail: { lang: state.lang } }));
})();
