/**
 * Bounds that keep one client from costing the store unbounded memory (subscribers: §5.4).
 * Each is a policy with a documented consequence, not a tuning knob for speed.
 */

/**
 * Replies waiting to be written to one client before the store stops reading that client's
 * requests. A client that pipelines requests without reading replies stalls itself, not the
 * store: memory per connection stays near this bound whatever the request rate.
 */
export const CLIENT_OUTPUT_LIMIT_BYTES = 4 * 1024 * 1024;

/**
 * Notifications one subscriber may have unread beyond its initial snapshot. A subscriber that
 * falls further behind is disconnected (its notification socket is closed; the client sees end
 * of stream and may subscribe again, receiving a fresh snapshot). Seals never wait for a reader.
 */
export const SUBSCRIBER_BACKLOG_LIMIT_BYTES = 16 * 1024 * 1024;
