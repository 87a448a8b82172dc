// The demo key of the WBS source tree (keys/demo-inspectorate.pub). Its
// private key is public, so anything encrypted to it can be read by anyone:
// a server that lists it must never take a real report.

/** `keys/demo-inspectorate.pub` (a Node test keeps the two equal). */
export const DEMO_RECIPIENT = "age1jfp2qq3uezr3unh7de39g89qkkc83ey5qcsxvln0d3ym85am3dws5vfj0k";

/** Whether the server's configuration encrypts to the demo key. */
export function usesDemoKey(config) {
  return Array.isArray(config && config.recipients) && config.recipients.includes(DEMO_RECIPIENT);
}
