// SPDX-License-Identifier: Apache-2.0
// The public header rg/session.h holds Session (docs/library.md); this path
// stays for the engine's code, with the Plan internals (engine/plan.h).
#pragma once

#include "engine/plan.h"
#include "rg/session.h"
