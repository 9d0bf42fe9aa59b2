// Types of OpenCode 2's TUI plugin API (`@opencode/plugin/tui`), for typechecking ocbar's
// OpenCode 2 plugin: the npm package that ships them (`@opencode/plugin`) is not reachable
// from here. Written from anomalyco/opencode:
//   packages/plugin/src/tui/plugin.ts   (`Plugin.define`, `Definition`, `Cleanup`)
//   packages/plugin/src/tui/context.ts  (`Context` and everything it holds)
//   packages/theme/src/tui/types.ts     (`ResolvedThemeTokens`, the part the panel reads)
// Only what ocbar's plugin touches is spelled out; the rest of `Context` is `unknown`, so
// using it fails the typecheck instead of passing unchecked. `@opencode/client` types
// (`LocationRef`, events) are reduced to the fields ocbar reads.
import type { CliRenderer, RGBA } from "@opentui/core"
import type { JSX } from "@opentui/solid"

declare namespace PluginApi {
  type LocationRef = { readonly directory: string; readonly workspaceID?: string }

  /** An event from OpenCode 2's stream (`packages/schema/src/event.ts`). */
  type OpenCodeEvent = {
    readonly id: string
    readonly type: string
    readonly data: Record<string, unknown>
    readonly location?: LocationRef
  }

  interface Data {
    readonly on: (type: string, handler: (event: OpenCodeEvent) => void) => () => void
    readonly listen: (handler: (event: { details: OpenCodeEvent }) => void) => () => void
    readonly session: unknown
  }

  type Route =
    | { readonly type: "home" }
    | { readonly type: "session"; readonly sessionID: string }
    | { readonly type: "plugin"; readonly id: string; readonly name: string; readonly data?: Record<string, any> }
  type Destination = Route | Omit<Extract<Route, { readonly type: "plugin" }>, "id">

  type ModelSlotInput = { readonly model?: { readonly providerID: string; readonly modelID: string } }
  interface SlotMap {
    readonly app: Readonly<Record<string, never>>
    readonly "home.footer": Readonly<Record<string, never>>
    readonly "session.composer.top": { readonly sessionID: string }
    readonly "sidebar.content": { readonly sessionID: string } & ModelSlotInput
    readonly "sidebar.footer": { readonly sessionID: string } & ModelSlotInput
  }
  type SlotPath = keyof SlotMap
  /** One placement key names the target (exactly one: the others are `never`). */
  type SlotClaim<Path extends SlotPath = SlotPath> = Path extends SlotPath
    ? { readonly render: (input: SlotMap[Path]) => JSX.Element } & (
        | { readonly prepend: Path; readonly append?: never; readonly before?: never; readonly after?: never; readonly replace?: never }
        | { readonly append: Path; readonly prepend?: never; readonly before?: never; readonly after?: never; readonly replace?: never }
        | { readonly before: Path; readonly prepend?: never; readonly append?: never; readonly after?: never; readonly replace?: never }
        | { readonly after: Path; readonly prepend?: never; readonly append?: never; readonly before?: never; readonly replace?: never }
        | { readonly replace: Path; readonly prepend?: never; readonly append?: never; readonly before?: never; readonly after?: never }
      )
    : never

  type ToastVariant = "info" | "success" | "warning" | "error"
  interface ToastOptions {
    readonly title?: string
    readonly message: string
    readonly variant?: ToastVariant
    readonly duration?: number
    readonly sessionID?: string
  }

  interface DialogSelectOption<Value> {
    readonly title: string
    readonly value: Value
    readonly description?: string
    readonly footer?: string
    readonly category?: string
    readonly disabled?: boolean
  }
  interface DialogSelectOptions<Value> {
    readonly title: string
    readonly placeholder?: string
    readonly options: readonly DialogSelectOption<Value>[]
    readonly current?: Value
  }
  interface Dialog {
    show(render: () => JSX.Element, onClose?: () => void): void
    clear(): void
    select<Value>(options: DialogSelectOptions<Value>): Promise<Value | undefined>
  }

  interface KeymapCommand {
    readonly id?: string
    readonly title?: string
    readonly description?: string
    readonly group?: string
    readonly enabled?: boolean | (() => boolean)
    readonly bind?: false | string
    readonly palette?: true
    readonly suggested?: boolean | (() => boolean)
    readonly run: (input?: string, event?: unknown) => void | false | Promise<void>
  }
  interface KeymapLayer {
    readonly mode?: string
    readonly enabled?: boolean | (() => boolean)
    readonly priority?: number
    readonly commands?: readonly KeymapCommand[]
    readonly bindings?: readonly string[]
  }
  interface Keymap {
    layer(input: () => KeymapLayer): void
    dispatch(id: string, input?: string): void
  }

  interface UI {
    readonly dialog: Dialog
    readonly toast: { show(options: ToastOptions): void }
    readonly router: {
      navigate(destination: Destination): void
      current(): Route
    }
    readonly tabs: {
      list(): readonly { readonly sessionID: string; readonly title?: string; readonly active: boolean }[]
      focus(sessionID: string): boolean
    }
    readonly slot: (claim: SlotClaim) => () => void
  }

  /** The theme's text colours (`ResolvedThemeTokens["text"]`). */
  type ThemeText = {
    readonly base: RGBA
    readonly muted: RGBA
    readonly action: Readonly<Record<string, { readonly base: RGBA }>>
    readonly feedback: Readonly<Record<"info" | "success" | "warning" | "error", { readonly base: RGBA; readonly muted: RGBA }>>
  }

  interface Context {
    readonly options: Readonly<Record<string, any>>
    readonly location: LocationRef | undefined
    readonly app: { readonly version: string; readonly channel: string }
    readonly renderer: CliRenderer
    readonly client: unknown
    readonly data: Data
    readonly attention: unknown
    readonly theme: { readonly text: ThemeText }
    readonly themeMode: "dark" | "light"
    readonly keymap: Keymap
    readonly storage: unknown
    readonly ui: UI
  }

  type Cleanup = () => Promise<void> | void
  interface Definition {
    readonly id: string
    readonly setup: (context: Context) => Promise<Cleanup | void> | Cleanup | void
  }
}

export declare const Plugin: {
  define(plugin: PluginApi.Definition): PluginApi.Definition
}
export declare namespace Plugin {
  type Context = PluginApi.Context
  type Definition = PluginApi.Definition
  type Cleanup = PluginApi.Cleanup
}
