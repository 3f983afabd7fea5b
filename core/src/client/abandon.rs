//! Abandoning an order the client will not finish (its names or challenge type changed):
//! its pending authorizations are deactivated (RFC 8555 §7.5.2), so they neither count
//! against the CA's limit on pending authorizations nor linger for days. Valid
//! authorizations are left alone: a new order for the same names may reuse them.

use std::collections::VecDeque;

use crate::client::api::Outcome;
use crate::client::flow::{Ctx, Flow, Step};
use crate::client::request::{Reply, RequestSpec};
use crate::error::Error;
use crate::json::ObjectWriter;
use crate::wire::{Authorization, AuthorizationStatus, Order, OrderStatus};

/// What the flow asked last.
#[derive(Debug)]
enum Asked {
    /// The order (POST-as-GET).
    Order,
    /// An authorization (POST-as-GET).
    Authorization,
    /// An authorization's deactivation.
    Deactivation,
}

/// Deactivates the pending authorizations of one order.
#[derive(Debug)]
pub(crate) struct AbandonFlow {
    /// The order.
    order_url: String,
    /// What was asked last.
    asked: Asked,
    /// Authorizations not yet looked at.
    remaining: VecDeque<String>,
    /// How many were deactivated.
    deactivated: u32,
}

impl AbandonFlow {
    /// A flow that abandons the order at `order_url`.
    pub(super) fn new(order_url: String) -> Self {
        Self {
            order_url,
            asked: Asked::Order,
            remaining: VecDeque::new(),
            deactivated: 0,
        }
    }

    /// Looks at the next authorization, or finishes.
    fn next(&mut self) -> Step {
        match self.remaining.pop_front() {
            Some(url) => {
                self.asked = Asked::Authorization;
                Step::Send(RequestSpec::post_as_get(&url))
            }
            None => Step::Finish(Outcome::OrderAbandoned {
                authorizations_deactivated: self.deactivated,
            }),
        }
    }
}

impl Flow for AbandonFlow {
    fn needs_account(&self) -> bool {
        true
    }

    fn start(&mut self, _ctx: &mut Ctx<'_>) -> Result<Step, Error> {
        Ok(Step::Send(RequestSpec::post_as_get(&self.order_url)))
    }

    fn on_response(&mut self, _ctx: &mut Ctx<'_>, reply: Reply) -> Result<Step, Error> {
        match &self.asked {
            Asked::Order => {
                let order: Order = reply.json("an order object")?;
                // Only a pending order has pending authorizations.
                if order.status == OrderStatus::Pending {
                    self.remaining = order.authorizations.into();
                }
                Ok(self.next())
            }
            Asked::Authorization => {
                let authz: Authorization = reply.json("an authorization object")?;
                if authz.status != AuthorizationStatus::Pending {
                    return Ok(self.next());
                }
                let payload = ObjectWriter::new()
                    .string("status", "deactivated")
                    .finish()
                    .into_bytes();
                let spec = RequestSpec::post(&reply.url, payload);
                self.asked = Asked::Deactivation;
                Ok(Step::Send(spec))
            }
            Asked::Deactivation => {
                let authz: Authorization = reply.json("an authorization object")?;
                if authz.status != AuthorizationStatus::Deactivated {
                    return Err(Error::invalid_response(
                        &reply.url,
                        "the authorization with status \"deactivated\"",
                    ));
                }
                self.deactivated += 1;
                Ok(self.next())
            }
        }
    }
}
