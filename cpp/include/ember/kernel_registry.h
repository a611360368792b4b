// Ops reach their kernels through this registry, one table of function pointers per op family
// and device, so adding a device is registering tables, not editing ops. A family declares its
// table as a struct of function pointers (one per dtype where needed); the CPU kernels register
// theirs at load time with EMBER_REGISTER_KERNELS, a CUDA build registers its own likewise.
#pragma once
#include "ember/error.h"

namespace ember {

enum class Device : int { cpu = 0, cuda = 1 };
constexpr int kNumDevices = 2;
const char* device_name(Device d);

template <class Table>
struct KernelSlot {
  static const Table*& at(Device d) {
    static const Table* slots[kNumDevices] = {};
    return slots[static_cast<int>(d)];
  }
};

template <class Table>
const Table& kernels(Device d = Device::cpu) {
  const Table* t = KernelSlot<Table>::at(d);
  if (!t) throw Error(detail::concat(Table::family, ": no kernels registered for device ",
                                     device_name(d)));
  return *t;
}

template <class Table>
struct KernelRegistrar {
  KernelRegistrar(Device d, const Table* t) { KernelSlot<Table>::at(d) = t; }
};

#define EMBER_REGISTER_KERNELS(Table, device, instance)                       \
  static ::ember::KernelRegistrar<Table> EMBER_KCAT(ember_kernels_, __LINE__)( \
      device, &instance)
#define EMBER_KCAT_INNER(a, b) a##b
#define EMBER_KCAT(a, b) EMBER_KCAT_INNER(a, b)

}  // namespace ember
