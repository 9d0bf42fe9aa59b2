// A stand-in for OpenCode 2's TUI, just enough to load ocbar's OpenCode 2 plugin
// (integrations/opencode/ocbar/tui.tsx) and exercise it: no OpenCode 2 build can be installed
// here. It implements the part of the plugin `context` the plugin uses, as OpenCode 2's plugin
// API declares it (anomalyco/opencode packages/plugin/src/tui/context.ts: `ui.slot`,
// `ui.router.current/navigate`, `ui.toast.show`, `ui.dialog.select`, `keymap.layer`,
// `data.listen`, `renderer` (OpenTUI's, focus/blur), `theme` (packages/theme/src/tui/types.ts),
// `location`), and calls `setup(context)` as OpenCode 2 does with a `Plugin.define` module
// (packages/plugin/src/tui/plugin.ts: `{id, setup}`, setup returns its cleanup).
//
//   node plugin_v2_harness.mjs <node_modules> <integrations/opencode/ocbar> [TUI argv…]
//
// The TSX is compiled with TypeScript (automatic JSX runtime) against a JSX runtime here that
// builds plain element trees; Solid (solid-js, its browser build: reactive) runs the plugin's
// signals, memos and effects as in the real TUI. A render is the slot's `render` called again
// and flattened to the text lines the sidebar would show.
//
// Commands, one JSON line each on stdin:
//   {"cmd":"render"}                      -> {"render":[line…]}
//   {"cmd":"route","session":"ses_…"|null}  (the TUI shows that session, or home)
//   {"cmd":"focus","focused":true|false}   (the terminal gains or loses focus)
//   {"cmd":"run","id":"ocbar.sessions"}    (a command from the palette or its key)
//   {"cmd":"choose","value":"ses_…"}       (answer the open dialog)
//   {"cmd":"dispose"}                      -> {"disposed":true}, then exit
// Reports, one JSON line each on stdout: {"ready":…} once loaded, {"toast":…}, {"navigate":…},
// {"select":{title, options}}, {"error":…}.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as readline from "node:readline"
import { EventEmitter } from "node:events"
import { pathToFileURL } from "node:url"

const [nodeModules, pluginDir] = process.argv.slice(2, 4)
const out = (msg) => process.stdout.write(JSON.stringify(msg) + "\n")

const ts = (await import(pathToFileURL(path.join(nodeModules, "typescript/lib/typescript.js")).href)).default
const solidUrl = pathToFileURL(path.join(nodeModules, "solid-js/dist/solid.js")).href
const solid = await import(solidUrl)

// --- compile the plugin: TSX -> ESM in a private directory ---------------------------------
const build = fs.mkdtempSync(path.join(os.tmpdir(), "ocbar-v2-plugin-"))
process.on("exit", () => fs.rmSync(build, { recursive: true, force: true }))
fs.writeFileSync(
  path.join(build, "jsx-runtime.mjs"),
  `export function jsx(type, props) { return typeof type === "function" ? type(props) : { tag: type, props } }
export const jsxs = jsx
export const Fragment = (props) => props.children
`,
)
for (const name of ["core", "tui"]) {
  const source = fs.readFileSync(path.join(pluginDir, `${name}.tsx`), "utf8")
  const js = ts.transpileModule(source, {
    fileName: `${name}.tsx`,
    reportDiagnostics: true,
    compilerOptions: {
      jsx: ts.JsxEmit.ReactJSX,
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
    },
  })
  if (js.diagnostics?.length) {
    out({ error: `${name}.tsx does not compile: ${ts.flattenDiagnosticMessageText(js.diagnostics[0].messageText, " ")}` })
    process.exit(1)
  }
  const text = js.outputText
    .replaceAll('"@opentui/solid/jsx-runtime"', '"./jsx-runtime.mjs"')
    .replaceAll('"solid-js"', JSON.stringify(solidUrl))
    .replaceAll('"./core.tsx"', '"./core.mjs"')
  fs.writeFileSync(path.join(build, `${name}.mjs`), text)
}
const plugin = (await import(pathToFileURL(path.join(build, "tui.mjs")).href)).default
if (typeof plugin?.id !== "string" || typeof plugin?.setup !== "function") {
  out({ error: "not an OpenCode 2 TUI plugin module: its default export is not {id, setup}" })
  process.exit(1)
}

// --- the context -------------------------------------------------------------------------------
const rgba = (name) => ({ rgba: name })
const scale = (name) => ({ base: rgba(name), muted: rgba(name + "-muted") })
const theme = {
  text: {
    base: rgba("text"),
    muted: rgba("text-muted"),
    action: { primary: { base: rgba("primary") }, accent: { base: rgba("accent") } },
    feedback: { info: scale("info"), success: scale("success"), warning: scale("warning"), error: scale("error") },
  },
}
const [route, setRoute] = solid.createSignal({ type: "home" })
const renderer = new EventEmitter()
const claims = []
const layers = []
let pendingSelect
const context = {
  options: {},
  location: { directory: process.cwd() },
  app: { version: "2.0.26", channel: "latest" },
  renderer,
  client: {},
  data: { listen: () => () => {}, on: () => () => {} },
  attention: { notify: async () => ({ ok: true, notification: false, sound: false }) },
  theme,
  themeMode: "dark",
  keymap: { layer: (fn) => layers.push(fn) },
  storage: {},
  ui: {
    toast: { show: (t) => out({ toast: t }) },
    router: {
      current: () => route(),
      navigate: (dest) => {
        out({ navigate: dest })
        setRoute(dest)
      },
      register: () => () => {},
    },
    dialog: {
      select: (opts) =>
        new Promise((resolve) => {
          pendingSelect = resolve
          out({ select: { title: opts.title, options: opts.options } })
        }),
      clear: () => {},
    },
    slot: (claim) => {
      claims.push(claim)
      return () => claims.splice(claims.indexOf(claim), 1)
    },
  },
}

// --- what a render shows ---------------------------------------------------------------------
/** The text lines of an element tree (functions are Solid's memos: read them). */
function lines(node, acc = []) {
  if (node == null || node === false || node === true) return acc
  if (typeof node === "function") return lines(node(), acc)
  if (Array.isArray(node)) {
    for (const n of node) lines(n, acc)
    return acc
  }
  if (typeof node === "object" && node.tag === "text") {
    acc.push(inline(node.props.children))
    return acc
  }
  if (typeof node === "object" && node.tag) return lines(node.props.children, acc)
  return acc
}
function inline(node) {
  if (node == null || node === false || node === true) return ""
  if (typeof node === "function") return inline(node())
  if (Array.isArray(node)) return node.map(inline).join("")
  if (typeof node === "object" && node.tag) return inline(node.props.children)
  return String(node)
}

let cleanup
let disposeRoot
solid.createRoot((dispose) => {
  disposeRoot = dispose
  cleanup = plugin.setup(context)
})
const commands = layers.flatMap((fn) => fn().commands ?? [])
out({
  ready: true,
  id: plugin.id,
  slots: claims.map(({ render, ...placement }) => placement),
  commands: commands.map((c) => ({ id: c.id, title: c.title, bind: c.bind ?? null, palette: c.palette ?? false })),
})

const rl = readline.createInterface({ input: process.stdin })
rl.on("line", async (line) => {
  let msg
  try {
    msg = JSON.parse(line)
  } catch {
    return out({ error: `not JSON: ${line}` })
  }
  switch (msg.cmd) {
    case "render": {
      const shown = []
      solid.createRoot((dispose) => {
        for (const c of claims) shown.push(...lines(c.render({ sessionID: route().sessionID ?? "" })))
        dispose()
      })
      return out({ render: shown })
    }
    case "route":
      return setRoute(msg.session ? { type: "session", sessionID: msg.session } : { type: "home" })
    case "focus":
      return renderer.emit(msg.focused ? "focus" : "blur")
    case "run": {
      const c = commands.find((c) => c.id === msg.id)
      if (!c) return out({ error: `no command ${msg.id}` })
      return c.run()
    }
    case "choose": {
      const resolve = pendingSelect
      pendingSelect = undefined
      return resolve?.(msg.value)
    }
    case "dispose":
      await cleanup?.()
      disposeRoot?.()
      out({ disposed: true, slots: claims.length })
      rl.close()
      return
    default:
      return out({ error: `unknown command ${msg.cmd}` })
  }
})
rl.on("close", () => setTimeout(() => process.exit(0), 50))
