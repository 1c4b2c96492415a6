// SPDX-License-Identifier: Apache-2.0
// The factory and its options are public: rg/backend_onednn.h (docs/library.md);
// this path stays for the engine's code, with the Backend interface it implements.
#pragma once

#include "engine/backend.h"
#include "rg/backend_onednn.h"
