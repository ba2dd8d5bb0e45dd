#!/usr/bin/env node
// The `custos` command. A committed file, so npm links it even before the first build.
import '../dist/cli/main.js';
