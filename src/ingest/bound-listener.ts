/** One listening socket, as startListeners reports it. */
export interface BoundListener {
  /** The URL with the port actually bound (port 0 resolved). */
  readonly url: string;
  readonly address: string;
  readonly port: number;
  /** Stops accepting, delivers what is in hand, ends connections. Idempotent. */
  close(): Promise<void>;
}
