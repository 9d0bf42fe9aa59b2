/** @jsxImportSource @opentui/solid */
// ocbar inside OpenCode 1 (TUI plugin for OpenCode 1.18.x). The OpenCode 2 plugin is
// `ocbar/tui.tsx`; what both do is in `ocbar/core.tsx`, which this file imports.
//
// Install with `ocbar install opencode-plugin` (writes this file to
// ~/.config/opencode/plugins/ocbar.tsx, the shared core to plugins/ocbar/core.tsx, and lists
// it in ~/.config/opencode/tui.json).
//
// - A panel in the session sidebar: every relevant session the ocbar daemon follows, on every
//   server: title, state (busy / retry with attempt / waiting / done / error / aborted), last
//   activity, and agent and model when there is room. Unvisited finished sessions are
//   highlighted (a ● marker and the theme's accent colour) until you open them. Live from an
//   `ocbar watch json` subscription: no polling.
// - On screen: which session this TUI shows, with its pid, $TMUX and $TMUX_PANE. The daemon
//   decides from those whether you can see it (its tmux pane in a window a client shows, its
//   terminal the focused window), so that the session on screen is marked visited and never
//   notified, and `ocbar open` can switch this TUI and bring its pane and window on screen.
//   The renderer's focus/blur are passed on too, but OpenCode's TUI does not turn on terminal
//   focus reporting, so today they never fire.
// - A plain `opencode` (no HTTP port, so the daemon cannot reach it): its session events are
//   bridged to the daemon, and the daemon's toasts and `ocbar open` come back through here.
// - Commands: "ocbar: open newest unvisited session" (<leader>o) and "ocbar: sessions".
//
// Without a daemon the panel says so in one line and the TUI is otherwise unaffected; the
// plugin reconnects with backoff.
import { startOcbar } from "./ocbar/core.tsx"

/** Bus events the daemon's model uses (everything else stays in the TUI). */
const BRIDGED = [
  "session.status",
  "session.error",
  "session.created",
  "session.updated",
  "session.deleted",
  "message.updated",
  "permission.asked",
  "permission.replied",
  "question.asked",
  "question.replied",
  "question.rejected",
]

export default {
  id: "ocbar",
  tui: async (api: any) => {
    // Which server this TUI shows: its HTTP URL, or none for a plain TUI (in-process server).
    const baseUrl: string | undefined = (() => {
      try {
        return api.client?.client?.getConfig?.()?.baseUrl
      } catch {
        return undefined
      }
    })()
    const attached = baseUrl && !/^https?:\/\/opencode\.internal/i.test(baseUrl) ? baseUrl.replace(/\/+$/, "") : null
    const directory = (): string => {
      try {
        return api.state?.path?.directory || process.cwd()
      } catch {
        return process.cwd()
      }
    }
    const described = new Set<string>()

    const ocbar = startOcbar({
      attached,
      directory,
      currentSession: () => {
        const r = api.route.current
        return r?.name === "session" && r.params?.sessionID ? String(r.params.sessionID) : null
      },
      navigate: (sessionID) => api.route.navigate("session", { sessionID }),
      toast: (t) => api.ui.toast(t),
      pick: (title, options, chosen) =>
        api.ui.dialog.replace(() => (
          <api.ui.DialogSelect
            title={title}
            options={options}
            onSelect={(o: any) => {
              api.ui.dialog.clear()
              chosen(o.value)
            }}
          />
        )),
      onFocusChange: (changed) => {
        api.renderer?.on?.("focus", () => changed(true))
        api.renderer?.on?.("blur", () => changed(false))
      },
      bridgeOpened: () => {
        described.clear()
        resync()
      },
    })

    // --- the bridge (a plain TUI): its bus events go to the daemon ----------------------------
    /** Before the first event of a session, tell the daemon its title, agent and model. */
    const describe = (id: string | undefined) => {
      if (!id || described.has(id)) return
      described.add(id)
      const info = api.state?.session?.get?.(id)
      if (info) {
        ocbar.forward({ type: "session.updated", properties: { sessionID: id, info } })
        return
      }
      Promise.resolve(api.client?.session?.get?.({ sessionID: id }))
        .then((r: any) => r?.data && ocbar.forward({ type: "session.updated", properties: { sessionID: id, info: r.data } }))
        .catch(() => {})
    }
    /** Bridged TUI, channel (re)opened: the sessions running now. */
    const resync = async () => {
      try {
        const r = await api.client.session.status()
        for (const [id, status] of Object.entries(r?.data ?? {})) {
          if ((status as any)?.type === "idle") continue
          describe(id)
          ocbar.forward({ type: "session.status", properties: { sessionID: id, status } })
        }
      } catch {}
    }
    if (!attached) {
      for (const type of BRIDGED) {
        api.event.on(type, (e: any) => {
          if (!ocbar.bridged()) return
          const p = e?.properties ?? {}
          const id = p.sessionID ?? (type.startsWith("session.") ? p.info?.id : undefined)
          // A session event carries its own metadata; anything else is preceded by it once.
          if (type === "session.created" || type === "session.updated") {
            if (id) described.add(id)
          } else {
            describe(id)
          }
          ocbar.forward(e)
        })
      }
    }
    api.lifecycle?.onDispose?.(ocbar.dispose)

    try {
      api.keymap.registerLayer({
        commands: [
          {
            name: "ocbar.open-unvisited",
            title: "ocbar: open newest unvisited session",
            category: "ocbar",
            namespace: "palette",
            run: ocbar.openNewestUnvisited,
          },
          { name: "ocbar.sessions", title: "ocbar: sessions", category: "ocbar", namespace: "palette", run: ocbar.pick },
        ],
        bindings: [{ key: "<leader>o", cmd: "ocbar.open-unvisited", desc: "ocbar: open newest unvisited session" }],
      })
    } catch {}

    api.slots.register({
      order: 150,
      slots: {
        sidebar_content(ctx: any) {
          const theme = () => ctx?.theme?.current ?? api.theme.current
          return <ocbar.Panel palette={theme} />
        },
      },
    })
  },
}
