// Preloaded (`node --require`) into Pulumi's dynamic provider by the
// `pulumi-resource-pulumi-nodejs` wrapper that scripts/bootstrap.sh installs.
//
// The engine starts the provider and, when it shuts down normally, stops it.
// When the engine dies instead (killed, or its own parent died), nothing stops
// the provider: Pulumi's Node provider does not watch its engine the way Go
// providers and language hosts do. The kernel re-parents an orphan, so a
// changed parent pid means the engine is gone, whatever signal ended it.
"use strict";

const engine = process.ppid;
setInterval(() => {
  if (process.ppid !== engine) process.exit(1);
}, 500).unref();
