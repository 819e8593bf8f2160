// The painter page: paint the area to change (Area) or sketch what to do (Sketch) on the user's photo.
// Plain JS, no build step, no third-party code. Inside Telegram it reads initData and the theme from
// the URL fragment (#tgWebAppData=...&tgWebAppThemeParams=...), as Telegram passes them, and calls
// Telegram.WebApp only when a client injected it. Everything is drawn in photo pixels: the drawing
// sent back has exactly the photo's size.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const hash = new URLSearchParams(location.hash.slice(1));
  const query = new URLSearchParams(location.search);
  const tg = window.Telegram && window.Telegram.WebApp;
  const initData = (tg && tg.initData) || hash.get("tgWebAppData") || "";
  const link = query.get("t") || hash.get("t") || query.get("tgWebAppStartParam") || "";
  const COLOURS = ["#ff3b30", "#ff9500", "#ffcc00", "#34c759", "#00c7be", "#007aff", "#af52de", "#ff2d55"];
  const AREA_TINT = "rgba(255, 0, 128, 0.55)";

  // ---- theme: Telegram's themeParams, else the system scheme (painter.css) ----
  function applyTheme() {
    let params = tg && tg.themeParams;
    if (!params || !Object.keys(params).length) {
      try { params = JSON.parse(hash.get("tgWebAppThemeParams") || "{}"); } catch (e) { params = {}; }
    }
    const names = { bg_color: "bg", text_color: "text", hint_color: "hint", button_color: "button",
      button_text_color: "button-text", secondary_bg_color: "secondary-bg", section_bg_color: "stage" };
    for (const [key, name] of Object.entries(names)) {
      if (params[key]) document.documentElement.style.setProperty(`--tg-${name}`, params[key]);
    }
    if (tg && tg.viewportStableHeight) {
      document.documentElement.style.setProperty("--tg-viewport-height", `${tg.viewportStableHeight}px`);
    }
  }

  // ---- state ----
  const photo = new Image();
  let session = null, width = 0, height = 0, texts = {};
  let mode = "area", tool = "brush", colour = COLOURS[0];
  let brush = 36; // on-screen pixels: the brush feels the same at any zoom
  const ops = { area: [], sketch: [] }, undone = { area: [], sketch: [] };
  const layers = { area: document.createElement("canvas"), sketch: document.createElement("canvas") };
  const view = { scale: 1, x: 0, y: 0 };
  const canvas = $("view"), ctx = canvas.getContext("2d");
  const status = (text) => { $("status").textContent = text || ""; };
  const t = (key, fallback) => texts[key] || fallback;

  // ---- drawing: operations replayed onto per-mode layers (undo = replay without the last one) ----
  function strokeOn(c, op) {
    c.save();
    c.globalCompositeOperation = op.tool === "eraser" ? "destination-out" : "source-over";
    c.strokeStyle = c.fillStyle = op.mode === "area" ? "#ffffff" : op.colour;
    c.lineWidth = op.size; c.lineCap = "round"; c.lineJoin = "round";
    const p = op.points;
    if (p.length === 1) {
      c.beginPath(); c.arc(p[0][0], p[0][1], op.size / 2, 0, Math.PI * 2); c.fill();
    } else {
      c.beginPath(); c.moveTo(p[0][0], p[0][1]);
      for (let i = 1; i < p.length; i++) c.lineTo(p[i][0], p[i][1]);
      c.stroke();
    }
    c.restore();
  }
  function apply(c, op) {
    if (op.kind === "clear") { c.clearRect(0, 0, width, height); return; }
    if (op.kind === "invert") {
      c.save(); c.globalCompositeOperation = "xor"; c.fillStyle = "#ffffff";
      c.fillRect(0, 0, width, height); c.restore(); return;
    }
    strokeOn(c, op);
  }
  function replay(which) {
    const c = layers[which].getContext("2d");
    c.clearRect(0, 0, width, height);
    for (const op of ops[which]) apply(c, op);
  }
  function push(op) {
    ops[mode].push(op); undone[mode] = [];
    apply(layers[mode].getContext("2d"), op); changed();
  }
  function undo() { if (ops[mode].length) { undone[mode].push(ops[mode].pop()); replay(mode); changed(); } }
  function redo() { if (undone[mode].length) { ops[mode].push(undone[mode].pop()); replay(mode); changed(); } }
  function changed() {
    $("undo").disabled = !ops[mode].length; $("redo").disabled = !undone[mode].length;
    $("clear").disabled = !ops[mode].length;
    $("done").disabled = !session || !ops[mode].some((op) => op.kind !== "clear");
    render();
  }

  // ---- view: fit, zoom around a point, pan ----
  function fit() {
    const r = canvas.getBoundingClientRect(), pad = 12;
    view.scale = Math.min((r.width - pad * 2) / width, (r.height - pad * 2) / height);
    view.x = (r.width - width * view.scale) / 2; view.y = (r.height - height * view.scale) / 2;
  }
  function resize() {
    const r = canvas.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(r.width * dpr); canvas.height = Math.round(r.height * dpr);
    if (width) { fit(); render(); }
  }
  function zoomAt(px, py, factor) {
    const fitted = Math.min(canvas.clientWidth / width, canvas.clientHeight / height);
    const next = Math.min(Math.max(view.scale * factor, fitted * 0.5), fitted * 12);
    view.x = px - (px - view.x) * (next / view.scale); view.y = py - (py - view.y) * (next / view.scale);
    view.scale = next; render();
  }
  const toImage = (px, py) => [(px - view.x) / view.scale, (py - view.y) / view.scale];
  function render() {
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0); ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (!width) return;
    ctx.setTransform(dpr * view.scale, 0, 0, dpr * view.scale, dpr * view.x, dpr * view.y);
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(photo, 0, 0, width, height);
    if (mode === "area") {
      // The area as a tint: its white pixels recoloured through a scratch canvas.
      const tint = scratch(); const c = tint.getContext("2d");
      c.globalCompositeOperation = "copy"; c.drawImage(layers.area, 0, 0);
      c.globalCompositeOperation = "source-in"; c.fillStyle = AREA_TINT; c.fillRect(0, 0, width, height);
      ctx.drawImage(tint, 0, 0);
    } else {
      ctx.drawImage(layers.sketch, 0, 0);
    }
  }
  let scratchCanvas = null;
  function scratch() {
    if (!scratchCanvas) { scratchCanvas = document.createElement("canvas"); scratchCanvas.width = width; scratchCanvas.height = height; }
    return scratchCanvas;
  }

  // ---- input: one pointer draws, two pointers pinch-zoom and pan; wheel zooms; right/middle drag pans ----
  const pointers = new Map();
  let current = null, pinch = null, panning = null;
  function local(e) { const r = canvas.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; }
  canvas.addEventListener("pointerdown", (e) => {
    if (!session) return;
    canvas.setPointerCapture(e.pointerId);
    pointers.set(e.pointerId, local(e));
    if (pointers.size === 2) {
      if (current) { current = null; replay(mode); render(); } // a pinch began: drop the stroke it started
      const [a, b] = [...pointers.values()];
      pinch = { dist: Math.hypot(a[0] - b[0], a[1] - b[1]), mid: [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2] };
      return;
    }
    if (e.button === 1 || e.button === 2 || spaceDown) { panning = local(e); return; }
    if (pointers.size === 1) {
      current = { kind: "stroke", mode, tool, colour, size: brush / view.scale, points: [toImage(...local(e))] };
      strokeOn(layers[mode].getContext("2d"), current); render();
    }
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!pointers.has(e.pointerId)) return;
    const here = local(e); pointers.set(e.pointerId, here);
    if (pinch && pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      const dist = Math.hypot(a[0] - b[0], a[1] - b[1]), mid = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
      view.x += mid[0] - pinch.mid[0]; view.y += mid[1] - pinch.mid[1];
      zoomAt(mid[0], mid[1], dist / (pinch.dist || dist)); pinch = { dist, mid }; return;
    }
    if (panning) { view.x += here[0] - panning[0]; view.y += here[1] - panning[1]; panning = here; render(); return; }
    if (current) {
      const point = toImage(...here), last = current.points[current.points.length - 1];
      current.points.push(point);
      const c = layers[mode].getContext("2d");
      strokeOn(c, { ...current, points: [last, point] }); render();
    }
  });
  function release(e) {
    pointers.delete(e.pointerId);
    if (pointers.size < 2) pinch = null;
    if (!pointers.size) panning = null;
    // The layer already holds the stroke (drawn segment by segment, opaque): no replay needed.
    if (current && !pointers.size) { const op = current; current = null; ops[mode].push(op); undone[mode] = []; changed(); }
  }
  canvas.addEventListener("pointerup", release);
  canvas.addEventListener("pointercancel", release);
  canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  canvas.addEventListener("wheel", (e) => { e.preventDefault(); const [x, y] = local(e); zoomAt(x, y, Math.exp(-e.deltaY / 300)); }, { passive: false });

  // ---- tools ----
  function setMode(next) {
    mode = next;
    $("mode-area").setAttribute("aria-selected", String(mode === "area"));
    $("mode-sketch").setAttribute("aria-selected", String(mode === "sketch"));
    $("hint").textContent = t(`painter_hint_${mode}`, $("hint").textContent);
    $("palette").hidden = mode !== "sketch"; $("invert").hidden = mode !== "area";
    updateDot(); changed();
  }
  function setTool(next) {
    tool = next;
    for (const name of ["brush", "eraser"]) {
      $(`tool-${name}`).classList.toggle("on", tool === name);
      $(`tool-${name}`).setAttribute("aria-pressed", String(tool === name));
    }
  }
  function setSize(next) { brush = Math.min(120, Math.max(4, next)); $("size").value = String(brush); updateDot(); }
  function updateDot() {
    $("size-dot").style.setProperty("--dot", `${Math.max(4, Math.min(22, brush / 4))}px`);
    $("size-dot").style.setProperty("--brush-colour", mode === "sketch" ? colour : "var(--text)");
  }
  function buildPalette() {
    for (const c of COLOURS) {
      const b = document.createElement("button");
      b.style.background = c; b.title = c; b.dataset.colour = c; b.classList.toggle("on", c === colour);
      b.addEventListener("click", () => {
        colour = c; setTool("brush");
        for (const other of $("palette").children) other.classList.toggle("on", other === b);
        updateDot();
      });
      $("palette").appendChild(b);
    }
  }
  $("mode-area").onclick = () => setMode("area");
  $("mode-sketch").onclick = () => setMode("sketch");
  $("tool-brush").onclick = () => setTool("brush");
  $("tool-eraser").onclick = () => setTool("eraser");
  $("size").oninput = (e) => setSize(Number(e.target.value));
  $("undo").onclick = undo; $("redo").onclick = redo;
  $("clear").onclick = () => { if (ops[mode].length) push({ kind: "clear" }); };
  $("invert").onclick = () => { if (mode === "area") push({ kind: "invert" }); };
  $("done").onclick = done;
  let spaceDown = false;
  document.addEventListener("keydown", (e) => {
    const mod = e.ctrlKey || e.metaKey, k = e.key.toLowerCase();
    if (mod && k === "z" && !e.shiftKey) { e.preventDefault(); undo(); }
    else if (mod && (k === "y" || (k === "z" && e.shiftKey))) { e.preventDefault(); redo(); }
    else if (mod) return;
    else if (k === "b") setTool("brush");
    else if (k === "e") setTool("eraser");
    else if (k === "[") setSize(brush - 4);
    else if (k === "]") setSize(brush + 4);
    else if (k === "i" && mode === "area") push({ kind: "invert" });
    else if (k === "0") { fit(); render(); }
    else if (k === " ") spaceDown = true;
    else if (k === "enter" && !$("done").disabled) done();
  });
  document.addEventListener("keyup", (e) => { if (e.key === " ") spaceDown = false; });

  // ---- the drawing as the bot wants it ----
  function exportBlob() {
    const out = document.createElement("canvas"); out.width = width; out.height = height;
    const c = out.getContext("2d");
    if (mode === "area") {
      // The API's mask form: opaque black, transparent where painted.
      c.fillStyle = "#000000"; c.fillRect(0, 0, width, height);
      c.globalCompositeOperation = "destination-out"; c.drawImage(layers.area, 0, 0);
    } else {
      c.drawImage(layers.sketch, 0, 0);
    }
    return new Promise((resolve) => out.toBlob(resolve, "image/png"));
  }
  async function done() {
    $("done").disabled = true; status(t("painter_sending", "Sending…"));
    try {
      const blob = await exportBlob();
      const r = await fetch(`api/drawing?mode=${mode}`, {
        method: "POST", body: blob, headers: { "Authorization": `Bearer ${session}`, "Content-Type": "image/png" },
      });
      const body = await r.json();
      if (!r.ok) { status(body.message || r.statusText); $("done").disabled = false; return; }
      status(t("painter_sent", "Sent.")); session = null; window.painterResult = body;
      if (tg && tg.close) setTimeout(() => tg.close(), 600);
    } catch (e) { status(String(e)); $("done").disabled = false; }
  }

  // ---- start ----
  async function start() {
    applyTheme();
    if (tg) { try { tg.ready(); tg.expand(); } catch (e) { /* an old client */ } }
    const r = await fetch("api/session", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ link, initData: initData || null }),
    });
    const body = await r.json();
    if (!r.ok) { status(body.message || r.statusText); return; }
    session = body.session; width = body.width; height = body.height; texts = body.texts || {};
    for (const el of document.querySelectorAll("[data-text]")) el.textContent = t(el.dataset.text, el.textContent);
    for (const el of document.querySelectorAll("[data-title]")) el.setAttribute("aria-label", t(el.dataset.title, el.title));
    document.title = t("painter_title", document.title);
    $("mode-sketch").hidden = !body.sketch;
    for (const l of Object.values(layers)) { l.width = width; l.height = height; }
    const res = await fetch("api/photo", { headers: { "Authorization": `Bearer ${session}` } });
    if (!res.ok) { status((await res.json()).message || res.statusText); session = null; return; }
    photo.src = URL.createObjectURL(await res.blob());
    await photo.decode();
    status(""); resize(); setMode(body.sketch ? "area" : "area");
  }
  buildPalette(); setTool("brush"); updateDot();
  window.addEventListener("resize", resize);
  if (tg && tg.onEvent) {
    tg.onEvent("themeChanged", () => { applyTheme(); render(); });
    tg.onEvent("viewportChanged", () => { applyTheme(); resize(); });
  }
  // Tests and curious developers: the view transform and the operations, read-only in spirit.
  window.painter = { view, ops, get mode() { return mode; }, get ready() { return !!session && !!width; } };
  start().catch((e) => status(String(e)));
})();
