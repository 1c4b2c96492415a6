// SPDX-License-Identifier: Apache-2.0
// The whole public API of the rg engine (docs/library.md): build a graph,
// differentiate it, compile it for a backend, run it in a Session, read and
// write safetensors files.
#pragma once

#include "rg/autodiff.h"
#include "rg/backend_ref.h"
#include "rg/compile.h"
#include "rg/config.h"
#include "rg/graph.h"
#include "rg/log.h"
#include "rg/safetensors.h"
#include "rg/session.h"
#include "rg/tensor.h"
#if RG_HAVE_ONEDNN
#include "rg/backend_onednn.h"
#endif
#if RG_HAVE_CUDA
#include "rg/backend_cuda.h"
#endif
