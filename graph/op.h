// SPDX-License-Identifier: Apache-2.0
// The public header rg/op.h holds the operator set (docs/library.md); this path stays for the engine's code.
#pragma once

#include "rg/op.h"
