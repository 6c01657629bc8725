// A program outside the slp tree: built against an installed slp, by find_package(slp)
// and by pkg-config. Prints "ping pong".
#include <cstdio>
#include <slp/slp.hpp>
#include <string>

int main() {
    slp::channel<std::string> ch;
    slp::spawn([&] { ch.send("ping"); });
    slp::spawn([&] { std::printf("%s pong\n", ch.receive().c_str()); },
               {slp::stack_kind::copied, 0, {}});
    slp::run();
    return 0;
}
