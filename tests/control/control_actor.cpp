#include "control/control_actor.hpp"

#include <doctest/doctest.h>
