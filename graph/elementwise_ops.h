// SPDX-License-Identifier: Apache-2.0
// Elementwise ops, each defined once: its name, arity, whether it reads
// attrs.scalar, how its inputs' shapes combine, and ONE formula in a tiny
// instruction form. Every backend consumes the formula: the reference backend
// interprets it per element (f32/f64), oneDNN's chain loop per chunk (and maps
// the forms its primitives have to post-ops), CUDA prints it as source
// (docs/lowering.md). Adding an elementwise op: its OpKind in rg/op.h and a
// row of the table in elementwise_ops.cpp (gradient included).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "graph/graph.h"

namespace rg {

// The instruction set: the arithmetic every backend has.
enum class EwInstrKind : uint8_t {
  kAdd,             // x + y
  kSub,             // x - y
  kMul,             // x * y
  kDiv,             // x / y
  kTanh,            // tanh(x)
  kExp,             // exp(x)
  kSelectPositive,  // x > 0 ? y : z (false for NaN)
};

// Operands of an instruction: the op's inputs, attrs.scalar and scalar2, two
// constants, and the results of the formula's earlier instructions (kTemp + i
// for the i-th).
enum EwOperand : int8_t { kEwA = 0, kEwB = 1, kEwScalar = 2, kEwZero = 3, kEwOne = 4, kEwScalar2 = 5, kEwTemp = 6 };

struct EwInstr {
  EwInstrKind op;
  int8_t x, y = -1, z = -1;
  bool operator==(const EwInstr&) const = default;
};

struct EwFormula {
  std::vector<EwInstr> code;
  int8_t result;  // an operand; kEwTemp + code.size() - 1 unless the op only forwards an input
};

// What a gradient rule may ask of autodiff about the forward pass: a value
// with the sign of activation v, for a mask (v itself, or a stand-in
// recomputed from v's inputs: GradientOptions::recompute_bn_activation).
class ForwardValues {
 public:
  virtual ValueId sign_source(ValueId v) = 0;
  // v itself, or (for a reader that needs the activation, e.g. a weight
  // gradient) its recomputed stand-in.
  virtual ValueId activation(ValueId v) = 0;

 protected:
  ~ForwardValues() = default;
};

// A gradient of `like`'s shape: d summed over the axes `like` was broadcast
// along (d itself when the shapes agree). For gradient rules.
ValueId sum_to_like(Graph& g, ValueId d, ValueId like);

// d loss / d input for each input (kNoValue: none) of node n, given dy.
using GradientRule = std::vector<ValueId> (*)(Graph& g, const Node& n, ValueId dy, ForwardValues& saved);

struct ElementwiseOp {
  OpKind op;
  const char* name;
  int arity;        // inputs: 1 or 2
  bool broadcasts;  // two inputs combine by numpy broadcasting; otherwise they have one shape
  EwFormula formula;
  GradientRule gradient = nullptr;  // null: not differentiable (the gradients of activations)
};

// The op's row, or null when `k` is not elementwise.
const ElementwiseOp* elementwise_op(OpKind k);

// One instruction's arithmetic, for interpreters; K is a compile-time constant
// so that a loop over a chunk vectorises.
template <EwInstrKind K, typename T>
inline T ew_apply(T x, T y, T z) {
  if constexpr (K == EwInstrKind::kAdd)
    return x + y;
  else if constexpr (K == EwInstrKind::kSub)
    return x - y;
  else if constexpr (K == EwInstrKind::kMul)
    return x * y;
  else if constexpr (K == EwInstrKind::kDiv)
    return x / y;
  else if constexpr (K == EwInstrKind::kTanh)
    return std::tanh(x);
  else if constexpr (K == EwInstrKind::kExp)
    return std::exp(x);
  else
    return x > T(0) ? y : z;
}

// Calls f(std::integral_constant<EwInstrKind, k>{}) for the runtime kind k.
template <typename F>
inline void ew_dispatch(EwInstrKind k, F&& f) {
  using K = EwInstrKind;
  switch (k) {
    case K::kAdd:
      f(std::integral_constant<K, K::kAdd>{});
      break;
    case K::kSub:
      f(std::integral_constant<K, K::kSub>{});
      break;
    case K::kMul:
      f(std::integral_constant<K, K::kMul>{});
      break;
    case K::kDiv:
      f(std::integral_constant<K, K::kDiv>{});
      break;
    case K::kTanh:
      f(std::integral_constant<K, K::kTanh>{});
      break;
    case K::kExp:
      f(std::integral_constant<K, K::kExp>{});
      break;
    case K::kSelectPositive:
      f(std::integral_constant<K, K::kSelectPositive>{});
      break;
  }
}

template <typename T>
inline T ew_apply(EwInstrKind k, T x, T y, T z) {
  T r{};
  ew_dispatch(k, [&](auto kind) { r = ew_apply<decltype(kind)::value>(x, y, z); });
  return r;
}

}  // namespace rg

namespace rg {

// Lowers node `n`'s formula onto a backend's register file. `r` provides
// input(i) (the register of the node's i-th input), constant(v) (a register
// holding v: attrs.scalar, scalar2, 0 or 1), temp() (a register for an intermediate,
// dead after this node), result() (the register of the node's output) and
// emit(kind, x, y, z, out). Returns the output's register (an input's, for an
// op that only forwards it).
template <typename Regs>
int lower_elementwise(const Node& n, Regs& r) {
  const ElementwiseOp* e = elementwise_op(n.op);
  if (!e) throw std::logic_error(std::string("not an elementwise op: ") + op_name(n.op));
  const EwFormula& f = e->formula;
  std::vector<int> temps;
  auto reg = [&](int8_t o) -> int {
    switch (o) {
      case -1:
        return -1;
      case kEwA:
        return r.input(0);
      case kEwB:
        return r.input(1);
      case kEwScalar:
        return r.constant(n.attrs.scalar);
      case kEwZero:
        return r.constant(0.0);
      case kEwOne:
        return r.constant(1.0);
      case kEwScalar2:
        return r.constant(n.attrs.scalar2);
      default:
        return temps.at(size_t(o - kEwTemp));
    }
  };
  for (size_t i = 0; i < f.code.size(); ++i) {
    const EwInstr& in = f.code[i];
    const int x = reg(in.x), y = reg(in.y), z = reg(in.z);
    const int out = i + 1 == f.code.size() ? r.result() : r.temp();
    r.emit(in.op, x, y, z, out);
    temps.push_back(out);
  }
  return reg(f.result);
}

}  // namespace rg

namespace rg {

// A register program (engine/lowered_chain.h builds one per fusion chain for
// every backend): registers numbered from 0, the loads the caller's own
// (`load(v)` gives value v's register), attrs.scalar, 0 and 1 in constant
// registers (one per distinct bit pattern, in double), a node's
// intermediates in registers the next node reuses.
struct EwRegisterProgram {
  struct Instr {
    EwInstrKind op;
    int x, y, z, out;  // registers; -1 for an operand the kind does not read
  };
  std::vector<Instr> code;
  std::vector<std::pair<int, double>> constants;  // register, value
  int num_regs = 0;

  // Appends node n's formula; returns the register holding its output.
  template <typename Load>
  int lower(const Node& n, Load&& load) {
    for (ValueId v : n.inputs) load(v);  // loads in input order (the in-place pairs' order)
    Lowering<Load> l{*this, n, load, num_regs++};
    return lower_elementwise(n, l);
  }

 private:
  template <typename Load>
  struct Lowering {
    EwRegisterProgram& p;
    const Node& n;
    Load& load;
    int out;
    size_t temps = 0;
    int input(int i) { return load(n.inputs[size_t(i)]); }
    int constant(double v) {
      for (const auto& [r, have] : p.constants)
        if (std::memcmp(&have, &v, sizeof v) == 0) return r;  // -0 is not 0 here
      p.constants.push_back({p.num_regs++, v});
      return p.constants.back().first;
    }
    int temp() {
      if (temps == p.temps_.size()) p.temps_.push_back(p.num_regs++);
      return p.temps_[temps++];
    }
    int result() const { return out; }
    void emit(EwInstrKind k, int x, int y, int z, int o) { p.code.push_back({k, x, y, z, o}); }
  };
  std::vector<int> temps_;
};

}  // namespace rg
