/** @jsxImportSource @opentui/solid */
// ocbar inside OpenCode 2 (a V2 TUI plugin: `export default { id, setup(context) }`, the shape
// `Plugin.define` from `@opencode/plugin/tui` returns). The OpenCode 1 plugin is `../ocbar.tsx`;
// what both do is in `./core.tsx`.
//
// Installed by `ocbar install opencode-plugin` as `plugins/ocbar/tui.tsx` in OpenCode's config
// directory, where OpenCode 2 discovers it by itself (one directory per plugin; nothing is added
// to cli.json). Written from OpenCode 2's plugin API, `packages/plugin/src/tui/context.ts` and
// `packages/plugin/src/tui/plugin.ts` in anomalyco/opencode (no OpenCode 2 build runs here):
//
// - the panel: `ui.slot({ append: "sidebar.content", render })`;
// - the session on screen: `ui.router.current()` (`{type: "session", sessionID}`); `open` from
//   the daemon: `ui.router.navigate({type: "session", sessionID})`;
// - terminal focus: the renderer's `focus` / `blur` events (OpenTUI's, as in OpenCode 1; the
//   terminal must report focus for them to come);
// - toasts: `ui.toast.show`; the session picker: `ui.dialog.select`;
// - the two commands: `keymap.layer` ("ocbar: open newest unvisited session" bound to
//   <leader>o, and "ocbar: sessions"), both in the command palette.
//
// Which server this TUI shows (the daemon follows it over HTTP; the plugin context holds no
// URL): `--server URL` (or `attach URL`) on the TUI's command line, else the shared background
// service recorded in `$XDG_STATE_HOME/opencode/service.json` (else
// `~/.local/state/opencode/service.json`), unless the TUI runs `--standalone` (a private server
// nobody else can reach): then the daemon bridges this TUI's events, which are forwarded as
// OpenCode 2 sends them (`data.listen`).
import type { Plugin } from "@opencode/plugin/tui"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { startOcbar, type Palette } from "./core.tsx"

/** The HTTP server this TUI shows, or null when only the TUI itself can reach it. */
function serverOf(argv: string[], env: Record<string, string | undefined>): string | null {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === "--server" && argv[i + 1]) return argv[i + 1].replace(/\/+$/, "")
    if (a.startsWith("--server=")) return a.slice(9).replace(/\/+$/, "")
    if (a === "attach" && /^https?:\/\//.test(argv[i + 1] ?? "")) return argv[i + 1].replace(/\/+$/, "")
  }
  if (argv.includes("--standalone")) return null
  const state = env.XDG_STATE_HOME || path.join(env.HOME || os.homedir(), ".local/state")
  try {
    const service = JSON.parse(fs.readFileSync(path.join(state, "opencode/service.json"), "utf8"))
    if (typeof service?.url === "string" && /^https?:\/\//.test(service.url)) return service.url.replace(/\/+$/, "")
  } catch {}
  return null
}

/** OpenCode 2's resolved theme (`@opencode/theme/tui`, `ResolvedThemeTokens`) as the panel's colours. */
function paletteOf(t: Plugin.Context["theme"] | undefined): Palette {
  const text: Partial<Plugin.Context["theme"]["text"]> = t?.text ?? {}
  const feedback: Partial<Plugin.Context["theme"]["text"]["feedback"]> = text.feedback ?? {}
  const action: Plugin.Context["theme"]["text"]["action"] = text.action ?? {}
  const base = text.base
  const pickBase = (v: any) => v?.base ?? base
  return {
    text: base,
    textMuted: text.muted ?? base,
    info: pickBase(feedback.info),
    warning: pickBase(feedback.warning),
    success: pickBase(feedback.success),
    error: pickBase(feedback.error),
    accent: pickBase(action.accent ?? action.primary),
    primary: pickBase(action.primary),
  }
}

const plugin: Plugin.Definition = {
  id: "ocbar",
  setup(context) {
    const attached = serverOf(process.argv, process.env)
    const ocbar = startOcbar({
      attached,
      directory: () => context.location?.directory || process.cwd(),
      currentSession: () => {
        const r = context.ui.router.current()
        return r?.type === "session" && r.sessionID ? String(r.sessionID) : null
      },
      navigate: (sessionID) => context.ui.router.navigate({ type: "session", sessionID }),
      toast: (t) => context.ui.toast.show(t),
      pick: (title, options, chosen) => {
        Promise.resolve(context.ui.dialog.select({ title, options }))
          .then((id: any) => {
            if (typeof id === "string") chosen(id)
          })
          .catch(() => {})
      },
      onFocusChange: (changed) => {
        context.renderer?.on?.("focus", () => changed(true))
        context.renderer?.on?.("blur", () => changed(false))
      },
    })
    // A TUI on a private server: its events reach the daemon only through here.
    const unlisten = attached
      ? undefined
      : context.data?.listen?.((e: any) => {
          if (ocbar.bridged() && e?.details) ocbar.forward(e.details)
        })

    context.keymap.layer(() => ({
      commands: [
        {
          id: "ocbar.open-unvisited",
          title: "ocbar: open newest unvisited session",
          group: "ocbar",
          palette: true,
          bind: "<leader>o",
          run: () => ocbar.openNewestUnvisited(),
        },
        { id: "ocbar.sessions", title: "ocbar: sessions", group: "ocbar", palette: true, run: () => ocbar.pick() },
      ],
    }))

    const unslot = context.ui.slot({
      append: "sidebar.content",
      render: () => <ocbar.Panel palette={() => paletteOf(context.theme)} />,
    })

    return () => {
      unslot?.()
      unlisten?.()
      ocbar.dispose()
    }
  },
}

export default plugin
