#!/usr/bin/env node
// The `driftless` executable; the commands live in program.ts so tests can run them in-process.
import { main } from "./program.js";

process.exitCode = await main(process.argv);
