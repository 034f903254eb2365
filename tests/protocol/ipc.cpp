#include "protocol/ipc.hpp"

#include <doctest/doctest.h>
