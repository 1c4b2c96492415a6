// SPDX-License-Identifier: Apache-2.0
// The public header rg/tensor.h holds these declarations (docs/library.md); this path stays for the engine's code.
#pragma once

#include "rg/tensor.h"
