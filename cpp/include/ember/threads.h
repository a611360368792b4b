// One knob for OpenMP and BLAS threads together, so the two pools never oversubscribe the cores.
#pragma once

namespace ember {
void set_num_threads(int n);   // n <= 0: the cores this process may use
int get_num_threads();
// Work below this many elements runs on one thread: waking a team costs more than it saves.
constexpr long kParallelGrain = 32768;
}  // namespace ember
