// app.js — the console's page: the ring, the members, the node's throughput and latency, work in
// progress and the operator's actions, all redrawn from ConsoleModel (model.js) as its polls
// answer. Served by every node at /ui/ (api/console-routes.ts); it shows that node's view.

import { html, render } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { Actions } from "./actions.js";
import { hasToken, setToken } from "./api.js";
import { Latency, Throughput } from "./charts.js";
import { assignColours, colourOf } from "./colours.js";
import { Members } from "./members.js";
import { ConsoleModel } from "./model.js";
import { Progress } from "./progress.js";
import { Ring } from "./ring.js";

/** @param {{ model: ConsoleModel }} props */
function KeyLookup({ model }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState("");
  const submit = async (/** @type {Event} */ event) => {
    event.preventDefault();
    try {
      await model.lookUp(key);
      setError("");
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  const lookup = model.lookup;
  return html`<form class="lookup" onSubmit=${submit}>
    <label
      >key
      <input
        name="key"
        value=${key}
        onInput=${(/** @type {any} */ e) => setKey(e.currentTarget.value)}
        placeholder="a key"
    /></label>
    <button type="submit">Show replicas</button>
    ${
      lookup !== null &&
      html`<p class="replicas" data-key=${lookup.key}>
        token ${lookup.token}, replicas:
        ${lookup.replicas.map((id, index) => html`<span class="replica-tag" data-replica=${id} style=${`border-color:${colourOf(id)}`}>${index === 0 ? "primary " : ""}${id}</span>`)}
      </p>`
    }
    ${error !== "" && html`<p class="error">${error}</p>`}
  </form>`;
}

/**
 * The bearer token the console's calls carry (a node served over TLS asks for one: `grapevine token
 * create --role reader`, or admin for the actions). Kept for this tab only (api.js).
 */
function TokenForm() {
  const [text, setText] = useState("");
  const [saved, setSaved] = useState(hasToken());
  const submit = (/** @type {Event} */ event) => {
    event.preventDefault();
    setToken(text.trim() === "" ? null : text.trim());
    setSaved(text.trim() !== "");
    setText("");
  };
  return html`<form class="token" onSubmit=${submit}>
    <label
      >token
      <input
        name="token"
        type="password"
        autocomplete="off"
        value=${text}
        onInput=${(/** @type {any} */ e) => setText(e.currentTarget.value)}
        placeholder=${saved ? "a token is set (empty: forget it)" : "gv_… (needed over TLS)"}
    /></label>
    <button type="submit">${saved ? "Replace" : "Use"}</button>
  </form>`;
}

/** @param {any} status @param {number} down */
function summaryText(status, down) {
  const learning = status.serving === false ? ", this node is still learning the ring" : "";
  return `${status.members.length} members, ${down} down${learning}`;
}

/** @param {{ model: ConsoleModel }} props */
function App({ model }) {
  const [, setVersion] = useState(0);
  useEffect(() => {
    model.start();
  }, []);
  // The model calls back on every poll; a counter forces the redraw.
  model.onRender = () => setVersion((v) => v + 1);
  const { status, ring } = model;
  if (status === null)
    return html`<p>${model.error || "Waiting for the node…"}</p>
      <${TokenForm} />`;
  assignColours(status.members.map((/** @type {any} */ m) => m.id));
  const down = status.members.filter((/** @type {any} */ m) => !m.live).length;
  const replicas = model.lookup?.replicas ?? [];
  return html`<header>
      <h1>Grapevine <small>seen from ${status.node}</small></h1>
      <p class="summary" data-members=${status.members.length} data-down=${down}>
        ${summaryText(status, down)}
        ${status.clock?.inRange === false ? html`, <strong>this node's clock is out of range: it refuses writes</strong>` : ""}
      </p>
      ${model.error !== "" && html`<p class="error" role="alert">${model.error}</p>`}
      <${TokenForm} />
    </header>
    <section class="top">
      <div>
        <h2>Ring</h2>
        <${Ring}
          ring=${ring}
          members=${status.members}
          streams=${model.streams}
          lookup=${model.lookup}
        />
        <${KeyLookup} model=${model} />
      </div>
      <div>
        <h2>Throughput and latency</h2>
        <${Throughput} history=${model.history} />
        <${Latency} history=${model.history} />
      </div>
    </section>
    <section>
      <h2>Members</h2>
      <${Members}
        status=${status}
        heartbeatAge=${model.heartbeatAge}
        hints=${{ count: model.hints.count, bytes: model.hints.bytesBy }}
        replicas=${replicas}
      />
    </section>
    <section>
      <h2>In progress</h2>
      <${Progress}
        hints=${model.hints}
        repairs=${[...model.repairs.values()].filter((j) => j.body !== null)}
        streams=${model.streams}
        change=${status.change}
      />
    </section>
    <section>
      <h2>Actions</h2>
      <${Actions}
        status=${status}
        ring=${model.ring}
        onRepairStarted=${(/** @type {string} */ id) => model.watchRepair(id)}
      />
    </section>`;
}

const root = document.getElementById("app");
if (root !== null) {
  /** @type {ConsoleModel & { onRender?: () => void }} */
  const model = Object.assign(new ConsoleModel(() => model.onRender?.()), { onRender: undefined });
  root.textContent = "";
  render(html`<${App} model=${model} />`, root);
}
