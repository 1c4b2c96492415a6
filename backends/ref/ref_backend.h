// SPDX-License-Identifier: Apache-2.0
// The factory is public: rg/backend_ref.h (docs/library.md); this path stays
// for the engine's code, with the Backend interface it implements.
#pragma once

#include "engine/backend.h"
#include "rg/backend_ref.h"
