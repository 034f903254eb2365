#include "webhook/webhook_actor.hpp"

#include <doctest/doctest.h>
