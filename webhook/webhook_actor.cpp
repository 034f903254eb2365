#include "webhook/webhook_actor.hpp"
