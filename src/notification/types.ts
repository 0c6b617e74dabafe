/**
 * A notification as Herald works with it: the homeserver's JSON after validation and
 * normalisation (see normalize.ts). Field names stay those of the Matrix push gateway
 * API so translation code reads like the spec.
 */
export interface Counts {
  readonly unread?: number;
  readonly missed_calls?: number;
}

export interface Device {
  readonly app_id: string;
  readonly pushkey: string;
  readonly pushkey_ts?: number;
  /** The pusher's data minus `url`; `{}` when the homeserver sent none or `null`. */
  readonly data: Readonly<Record<string, unknown>>;
  /** Push rule tweaks (`sound`, `highlight`, others); `{}` when absent. */
  readonly tweaks: Readonly<Record<string, unknown>>;
  /**
   * Why the pusher's data can never be sent (e.g. a default_payload nested too deeply to
   * handle); the dispatcher then rejects the device without calling its pushkin.
   */
  readonly unsendable?: string;
}

export interface Notification {
  /** Absent for badge-only pushes (Synapse sends `id: ""` and no event_id). */
  readonly event_id?: string;
  readonly room_id?: string;
  /** Absent for badge-only and event_id_only pushes (`type: null` is normalised away). */
  readonly type?: string;
  readonly sender?: string;
  readonly sender_display_name?: string;
  readonly room_name?: string;
  readonly room_alias?: string;
  /** Synapse's full format carries it for member events. */
  readonly membership?: string;
  readonly user_is_target?: boolean;
  /** `high` when the homeserver omitted it (Dendrite never sends it, tuwunel omits it when high). */
  readonly prio: 'high' | 'low';
  readonly content?: Readonly<Record<string, unknown>>;
  readonly counts: Counts;
  readonly devices: readonly Device[];
  /**
   * The notification object as the homeserver sent it (after validation), for a pushkin
   * that forwards it as received (UnifiedPush); read it depth-bounded. Absent when
   * Herald made the notification itself (send-test).
   */
  readonly received?: Readonly<Record<string, unknown>>;
}
