// seed_coop_soft — the seed's example again, with soft tasklets: the same three tasklets
// as C++20 coroutines that wait without a stack of their own. Same six lines, same order
// as seed_coop (the semantics do not depend on how a tasklet is switched). On stderr,
// this thread's switch counters: every switch between the three is soft.
#include <cstdio>
#include <string>

#include "slp/slp.hpp"

int main() {
    slp::channel<std::string> channel;

    slp::spawn_soft([&]() -> slp::task<> {
        std::puts("Receiving tasklet started");
        const std::string got = co_await channel.async_receive();
        std::puts(got.c_str());
        std::puts("Receiving tasklet finished");
    });
    slp::spawn_soft([&]() -> slp::task<> {
        std::puts("Sending tasklet started");
        co_await channel.async_send("send from sending_tasklet");
        std::puts("sending tasklet finished");
    });
    slp::spawn_soft([]() -> slp::task<> {
        std::puts("Just another tasklet in the scheduler");
        co_return;
    });
    slp::run();

    const slp::switch_counts n = slp::get_switch_counts();
    std::fprintf(stderr, "switches: %llu soft, %llu hard, %llu promotions\n",
                 static_cast<unsigned long long>(n.soft), static_cast<unsigned long long>(n.hard),
                 static_cast<unsigned long long>(n.promotions));
    return 0;
}
