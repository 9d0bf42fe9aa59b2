/** @jsxImportSource @opentui/solid */
// ocbar inside OpenCode: what the OpenCode 1 plugin (`../ocbar.tsx`) and the OpenCode 2 plugin
// (`./tui.tsx`) share. Each of them is a thin shell that adapts its OpenCode's plugin API to a
// `Host`; everything else is here, once:
//
// - the two connections to the ocbar daemon (`watch json` for the panel; the TUI channel: hello
//   with pid, $TMUX and $TMUX_PANE, the session on screen and terminal focus out, toasts and
//   `open` in), each reconnecting with backoff;
// - the panel (every relevant session on every server: title, state, last activity, agent and
//   model when there is room; unvisited finished sessions marked ● in the accent colour);
// - the two commands' actions ("open newest unvisited session", "sessions").
//
// Installed as `plugins/ocbar/core.tsx` in OpenCode's config directory by
// `ocbar install opencode-plugin`. OpenCode 1 loads only `plugins/*.{ts,js}` by itself, and
// OpenCode 2 loads only `plugins/<dir>/tui.tsx`, so neither loads this file except through a
// shell's import. Socket: $OCBAR_SOCKET, else $XDG_RUNTIME_DIR/ocbar.sock, else
// /tmp/ocbar-$UID/ocbar.sock (as the ocbar command line).
import { createEffect, createSignal, For, Show, onCleanup } from "solid-js"
import * as net from "node:net"
import * as path from "node:path"

const PROTOCOL = 1
/** The daemon refuses longer lines (protocol MAX_TUI_LINE is 1 MiB). */
export const MAX_LINE = 900_000
/** Sessions shown before "… N more". */
const MAX_ROWS = 8

export function socketPath(): string {
  const env = process.env
  if (env.OCBAR_SOCKET) return env.OCBAR_SOCKET
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, "ocbar.sock")
  const uid = typeof process.getuid === "function" ? process.getuid() : 0
  return `/tmp/ocbar-${uid}/ocbar.sock`
}

type Handlers = {
  /** The daemon answered the request (its first reply line). */
  up?: (reply: any) => void
  /** A later line. */
  line?: (msg: any) => void
  /** The connection went away (or could not be made). */
  down?: (wasUp: boolean, why: string) => void
}

/** One line-protocol connection to the daemon that reconnects with backoff (0.5 s … 10 s). */
export class Channel {
  private sock: net.Socket | undefined
  private buf = ""
  private delay = 500
  private timer: ReturnType<typeof setTimeout> | undefined
  private closed = false
  private greeted = false
  up = false

  constructor(
    private request: () => string,
    private h: Handlers,
  ) {}

  start() {
    this.open()
  }

  private open() {
    if (this.closed) return
    this.greeted = false
    this.up = false
    this.buf = ""
    this.lastError = "closed"
    let s: net.Socket
    try {
      s = net.createConnection({ path: socketPath() })
    } catch (e) {
      this.h.down?.(false, String(e))
      this.retry()
      return
    }
    this.sock = s
    s.setEncoding("utf8")
    s.on("connect", () => {
      s.write(this.request() + "\n")
    })
    s.on("data", (chunk: string) => {
      this.buf += chunk
      let i: number
      while ((i = this.buf.indexOf("\n")) >= 0) {
        const line = this.buf.slice(0, i)
        this.buf = this.buf.slice(i + 1)
        this.onLine(line)
      }
      if (this.buf.length > 16 * 1024 * 1024) s.destroy()
    })
    s.on("error", (e: any) => {
      this.lastError = e?.code ?? String(e)
    })
    s.on("close", () => {
      if (this.sock !== s) return
      this.sock = undefined
      const was = this.up
      this.up = false
      this.h.down?.(was, this.lastError)
      this.retry()
    })
  }

  private lastError = "closed"

  private onLine(text: string) {
    let msg: any
    try {
      msg = JSON.parse(text)
    } catch {
      return
    }
    if (!this.greeted && msg && msg.hello === "ocbar") {
      this.greeted = true
      if (msg.protocol !== PROTOCOL) {
        this.lastError = `daemon speaks protocol ${msg.protocol}, this plugin ${PROTOCOL}`
        this.sock?.destroy()
      }
      return
    }
    if (!this.up) {
      if (msg && typeof msg.error === "string") {
        this.lastError = msg.error
        this.sock?.destroy()
        return
      }
      this.up = true
      this.delay = 500
      this.h.up?.(msg)
      return
    }
    this.h.line?.(msg)
  }

  private retry() {
    if (this.closed) return
    clearTimeout(this.timer)
    this.timer = setTimeout(() => this.open(), this.delay)
    ;(this.timer as any)?.unref?.()
    this.delay = Math.min(this.delay * 2, 10_000)
  }

  /** Send one line if the channel is up; false otherwise. */
  send(line: string): boolean {
    if (!this.sock || !this.up) return false
    this.sock.write(line + "\n")
    return true
  }

  close() {
    this.closed = true
    clearTimeout(this.timer)
    this.sock?.destroy()
    this.sock = undefined
  }
}

/** One request, one reply (e.g. `open ses_…`), for the commands. */
export function oneShot(request: string): Promise<{ ok?: string; error?: string }> {
  return new Promise((resolve) => {
    let buf = ""
    let greeted = false
    const s = net.createConnection({ path: socketPath() })
    const done = (r: { ok?: string; error?: string }) => {
      resolve(r)
      s.destroy()
    }
    const timer = setTimeout(() => done({ error: "the ocbar daemon did not answer" }), 15_000)
    s.setEncoding("utf8")
    s.on("connect", () => s.write(request + "\n"))
    s.on("data", (c: string) => {
      buf += c
      let i: number
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i)
        buf = buf.slice(i + 1)
        let msg: any
        try {
          msg = JSON.parse(line)
        } catch {
          continue
        }
        if (!greeted && msg?.hello) {
          greeted = true
          continue
        }
        clearTimeout(timer)
        done(msg ?? {})
      }
    })
    s.on("error", () => {
      clearTimeout(timer)
      done({ error: "ocbar: daemon not running" })
    })
  })
}

// ---------------------------------------------------------------------------------------------
// text helpers

export function ago(ms: number | null | undefined, now: number): string {
  if (!ms) return ""
  const s = Math.max(0, Math.round((now - ms) / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m`
  if (s < 86400) return `${Math.floor(s / 3600)}h`
  return `${Math.floor(s / 86400)}d`
}

export function clip(text: string, width: number): string {
  const chars = Array.from(text.replace(/[\u0000-\u001f\u007f]+/g, " "))
  if (chars.length <= width) return chars.join("")
  return chars.slice(0, Math.max(0, width - 1)).join("") + "…"
}

export function stateWord(s: any, now: number): string {
  switch (s.state) {
    case "retry": {
      let w = `retry #${s.attempt ?? "?"}`
      if (s.retry_next_ms) {
        const left = Math.round((s.retry_next_ms - now) / 1000)
        if (left > 0) w += ` in ${left}s`
      }
      return w
    }
    case "waiting":
      return "waiting for you"
    default:
      return String(s.state ?? "?")
  }
}


// ---------------------------------------------------------------------------------------------
// the host: what each OpenCode's plugin API gives

/** Colours the panel uses, from the host's theme. */
export type Palette = {
  text: any
  textMuted: any
  info: any
  warning: any
  success: any
  error: any
  accent: any
  primary: any
}

export type ToastVariant = "info" | "success" | "warning" | "error"

/** One choice in the session picker. */
export type PickOption = { title: string; value: string; description: string; category: string }

/** What ocbar needs from the TUI it runs in; each shell implements it with its OpenCode's API. */
export interface Host {
  /** The HTTP server this TUI shows (the daemon follows it), or null: a TUI the daemon cannot
   * reach over HTTP, whose events the shell bridges (see `Ocbar.forward`). */
  attached: string | null
  /** The directory this TUI works in. */
  directory(): string
  /** The session on screen, or null. Read inside an effect: it must be reactive. */
  currentSession(): string | null
  /** Show this session in this TUI. */
  navigate(sessionID: string): void
  toast(t: { title: string; message: string; variant: ToastVariant; duration: number }): void
  /** Let the user choose a session; `chosen` gets its id. */
  pick(title: string, options: PickOption[], chosen: (id: string) => void): void
  /** Call `changed` when the terminal gains or loses focus (if the host can tell). */
  onFocusChange(changed: (focused: boolean) => void): void
  /** The daemon asked for this TUI's events (the channel (re)opened as a bridge). */
  bridgeOpened?(): void
}

/** What a shell gets back: the panel, the commands' actions, and the bridge. */
export interface Ocbar {
  /** The sidebar panel. */
  Panel: (props: { palette: () => Palette }) => any
  /** "ocbar: open newest unvisited session". */
  openNewestUnvisited(): void
  /** "ocbar: sessions". */
  pick(): void
  /** Whether the daemon bridges this TUI's events (it cannot reach its server over HTTP). */
  bridged(): boolean
  /** Send one bus event to the daemon (only while bridged; too long a line is dropped). */
  forward(payload: any): void
  /** Close both connections and stop the clock. */
  dispose(): void
}

/** Start ocbar in a TUI: connect to the daemon and keep the panel's data live. */
export function startOcbar(host: Host): Ocbar {
  const [snap, setSnap] = createSignal<any>(undefined)
  const [daemon, setDaemon] = createSignal<"connecting" | "up" | "down">("connecting")
  const [now, setNow] = createSignal(Date.now())

  // Relative times and retry countdowns: a local clock (the data itself is pushed).
  let clock: ReturnType<typeof setInterval> | undefined
  const tick = () => {
    setNow(Date.now())
    const retrying = (snap()?.sessions ?? []).some((s: any) => s.state === "retry")
    clearInterval(clock)
    clock = setInterval(tick, retrying ? 1000 : 5000)
    ;(clock as any)?.unref?.()
  }
  tick()

  /** The daemon's name for this TUI's server (`tui://<pid>` when bridged). */
  let myServer: string | null = host.attached
  let bridged = false

  // --- the TUI channel: focus out, bridged events out, toasts and `open` in -----------------
  let focused = true
  const tui = new Channel(
    () =>
      "tui " +
      JSON.stringify({
        tui: String(process.pid),
        pid: process.pid,
        tmux_pane: process.env.TMUX_PANE ?? null,
        tmux: process.env.TMUX ?? null,
        directory: host.directory(),
        server: host.attached,
      }),
    {
      up: (reply: any) => {
        const ok = typeof reply?.ok === "string" ? reply.ok : ""
        bridged = ok.startsWith("bridge ")
        myServer = bridged ? ok.slice(7) : host.attached
        reportFocus()
        if (bridged) host.bridgeOpened?.()
      },
      line: (msg: any) => {
        if (msg?.toast) {
          const t = msg.toast
          host.toast({
            title: String(t.title ?? "ocbar"),
            message: String(t.message ?? ""),
            variant: t.variant ?? "info",
            duration: 6000,
          })
        } else if (typeof msg?.open === "string") {
          host.navigate(msg.open)
        }
      },
      down: () => {
        bridged = false
      },
    },
  )
  const reportFocus = () => {
    tui.send("focus " + JSON.stringify({ session: host.currentSession(), focused }))
  }
  const forward = (payload: any) => {
    if (!bridged) return
    let line = "event " + JSON.stringify({ directory: host.directory(), payload })
    if (line.length > MAX_LINE && payload?.properties?.metadata) {
      const { metadata, ...rest } = payload.properties
      line = "event " + JSON.stringify({ directory: host.directory(), payload: { ...payload, properties: rest } })
    }
    if (line.length <= MAX_LINE) tui.send(line)
  }
  createEffect(() => {
    host.currentSession()
    reportFocus()
  })
  host.onFocusChange((f) => {
    focused = f
    reportFocus()
  })

  // --- the panel's data: `watch json` ------------------------------------------------------
  const watch = new Channel(() => "watch json", {
    up: (reply: any) => {
      setDaemon("up")
      take(reply)
    },
    line: take,
    down: () => setDaemon("down"),
  })
  function take(msg: any) {
    if (typeof msg?.ok !== "string") return
    try {
      setSnap(JSON.parse(msg.ok))
      tick()
    } catch {}
  }

  tui.start()
  watch.start()

  // --- opening sessions --------------------------------------------------------------------
  const rowsOf = (s: any): any[] => {
    const all: any[] = s?.sessions ?? []
    const ids = new Set(all.map((x) => x.id))
    return all.filter((x) => !x.parent_id || !ids.has(x.parent_id))
  }
  // Every pick goes through the daemon, as a bar click does: it chooses the TUI (one already
  // showing the session, else the most recently focused one that can show it, often this one),
  // switches only that one and brings its tmux pane and terminal window on screen.
  const open = async (s: any) => {
    const r = await oneShot(`open ${s.id}`)
    // Its own server is gone (OpenCode moved, its TUI exited): this TUI shares the sessions.
    if (r.error && (s.server === myServer || s.reachable === false)) {
      host.navigate(s.id)
      return
    }
    host.toast({
      variant: r.error ? "error" : "info",
      title: "ocbar",
      message: r.error ?? r.ok ?? `opened ${s.title || s.id}`,
      duration: 4000,
    })
  }
  const openNewestUnvisited = () => {
    const s = rowsOf(snap()).find((x) => x.unvisited)
    if (s) open(s)
    else host.toast({ variant: "info", title: "ocbar", message: "no unvisited session", duration: 3000 })
  }
  const pick = () => {
    const rows = rowsOf(snap())
    if (!rows.length) {
      host.toast({
        variant: "info",
        title: "ocbar",
        message: daemon() === "up" ? "no relevant session" : "ocbar: daemon not running",
        duration: 3000,
      })
      return
    }
    const t = now()
    host.pick(
      "ocbar sessions",
      rows.map((s) => ({
        title: (s.unvisited ? "● " : "") + (s.title || s.id),
        value: s.id,
        description: `${stateWord(s, t)} · ${ago(s.last_activity_ms, t)}${s.reachable === false ? " · unreachable" : ""}`,
        category:
          s.server === myServer
            ? "this TUI"
            : String(s.server).startsWith("tui://")
              ? `plain TUI, pid ${String(s.server).slice(6)}`
              : String(s.server),
      })),
      (id) => {
        const s = rows.find((x) => x.id === id)
        if (s) open(s)
      },
    )
  }

  // --- the panel ---------------------------------------------------------------------------
  const Panel = (props: { palette: () => Palette }) => {
    const theme = () => props.palette()
    const [width, setWidth] = createSignal(36)
    let box: any
    const measure = () => {
      const w = box?.width
      if (typeof w === "number" && w > 8) setWidth(w)
    }
    onCleanup(() => (box = undefined))
    const color = (s: any) => {
      const t = theme()
      switch (s.state) {
        case "busy":
          return t.info
        case "retry":
        case "waiting":
          return t.warning
        case "done":
          return t.success
        case "error":
          return t.error
        default:
          return t.textMuted
      }
    }
    const rows = () => rowsOf(snap())
    const counts = () => {
      const c = snap()?.counts ?? {}
      const parts: string[] = []
      for (const k of ["busy", "retry", "waiting", "done", "error"]) if (c[k]) parts.push(`${c[k]} ${k}`)
      if (c.unvisited) parts.push(`${c.unvisited} new`)
      return parts.join(" · ")
    }
    /** The second line of a row: the state (coloured), then what fits of the rest. */
    const detail = (s: any): [string, string] => {
      const w = width() - 2
      const t = now()
      const state = clip(stateWord(s, t), w)
      let rest = ""
      const when = ago(s.last_activity_ms, t)
      if (when) rest += (s.state === "retry" ? " · " : " ") + when
      const extra = [
        s.reachable === false ? "unreachable" : "",
        s.children_active ? `+${s.children_active} sub-agent${s.children_active > 1 ? "s" : ""}` : "",
        s.agent ?? "",
        s.model ?? "",
      ].filter(Boolean)
      for (const e of extra) {
        if (Array.from(state + rest).length + 3 + Array.from(e).length <= w) rest += ` · ${e}`
      }
      return [state, clip(rest, Math.max(0, w - Array.from(state).length))]
    }
    return (
      <box
        flexDirection="column"
        flexShrink={0}
        ref={(el: any) => {
          box = el
          queueMicrotask(measure)
        }}
        onSizeChange={measure}
      >
        <Show
          when={daemon() === "up"}
          fallback={
            <text fg={theme().textMuted} wrapMode="none">
              {daemon() === "down" ? "ocbar: daemon not running" : "ocbar: connecting…"}
            </text>
          }
        >
          <text fg={theme().text} wrapMode="none">
            <b>ocbar</b>
            <span style={{ fg: theme().textMuted }}>{rows().length ? "  " + clip(counts(), width() - 7) : "  no active sessions"}</span>
          </text>
          <For each={rows().slice(0, MAX_ROWS)}>
            {(s: any) => (
              <box flexDirection="column">
                <text fg={s.unvisited ? theme().accent : theme().text} wrapMode="none">
                  <span style={{ fg: s.unvisited ? theme().accent : theme().primary, bold: true }}>
                    {s.unvisited ? "● " : s.id === host.currentSession() ? "▸ " : "  "}
                  </span>
                  {s.unvisited ? <b>{clip(s.title || s.id, width() - 2)}</b> : clip(s.title || s.id, width() - 2)}
                </text>
                <text fg={theme().textMuted} wrapMode="none">
                  {"  "}
                  <span style={{ fg: color(s) }}>{detail(s)[0]}</span>
                  {detail(s)[1]}
                </text>
              </box>
            )}
          </For>
          <Show when={rows().length > MAX_ROWS}>
            <text fg={theme().textMuted} wrapMode="none">
              {`  … ${rows().length - MAX_ROWS} more (ocbar: sessions)`}
            </text>
          </Show>
        </Show>
      </box>
    )
  }

  return {
    Panel,
    openNewestUnvisited,
    pick,
    bridged: () => bridged,
    forward,
    dispose: () => {
      tui.close()
      watch.close()
      clearInterval(clock)
    },
  }
}
