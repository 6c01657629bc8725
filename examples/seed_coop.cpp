// seed_coop — the seed's "Cooperative Multitasking" session (shared/seed/seed_coop.py)
// written with the C++ API. Prints, in this order:
//   Receiving tasklet started
//   Sending tasklet started
//   send from sending_tasklet
//   Receiving tasklet finished
//   Just another tasklet in the scheduler
//   sending tasklet finished
#include <cstdio>
#include <string>

#include "slp/slp.hpp"

int main() {
    slp::channel<std::string> channel;

    auto receiving_tasklet = [&] {
        std::puts("Receiving tasklet started");
        std::puts(channel.receive().c_str());
        std::puts("Receiving tasklet finished");
    };
    auto sending_tasklet = [&] {
        std::puts("Sending tasklet started");
        channel.send("send from sending_tasklet");
        std::puts("sending tasklet finished");
    };
    auto another_tasklet = [] { std::puts("Just another tasklet in the scheduler"); };

    slp::spawn(receiving_tasklet);
    slp::spawn(sending_tasklet);
    slp::spawn(another_tasklet);
    slp::run();
    return 0;
}
