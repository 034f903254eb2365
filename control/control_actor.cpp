#include "control/control_actor.hpp"
