#!/usr/bin/env node
// Thin launcher: the command line lives in src/cli (compiled to dist/cli).
import '../dist/cli/main.js';
