// SPDX-License-Identifier: Apache-2.0
// The public header rg/safetensors.h holds safetensors I/O (docs/library.md); this path stays for the engine's code.
#pragma once

#include "rg/safetensors.h"
